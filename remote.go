package mailslot

import (
	"time"

	"github.com/mailslot-go/mailslot/internal/remote"
)

// remoteWriter writes to a name on other computers (see internal/remote).
type remoteWriter struct{ w *remote.Writer }

func (r remoteWriter) write(p []byte, timeout time.Duration) error { return r.w.Write(p, timeout) }
func (r remoteWriter) maxMessageSize() int                         { return r.w.MaxMessageSize() }
func (r remoteWriter) close() error                                { return r.w.Close() }

// openRemote opens a name on another computer, a workgroup or `*`.
func openRemote(n Name) (writer, error) {
	w, err := remote.Open(n.Host, n.Path)
	if err != nil {
		return nil, err
	}
	return remoteWriter{w}, nil
}
