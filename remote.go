package mailslot

import (
	"fmt"

	"github.com/mailslot-go/mailslot/internal/errs"
)

// openRemote opens a name on another computer or a domain.
func openRemote(n Name) (writer, error) {
	return nil, fmt.Errorf("%w: remote mailslots (%s) are not built yet", errs.NotSupported, n.Host)
}
