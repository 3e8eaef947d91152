package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	tests := []struct {
		bi   debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/mailslot-go/mailslot", Version: "v1.2.3"}},
			"mailslotd v1.2.3 go1.26.0 github.com/mailslot-go/mailslot"},
		{debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "m"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "70da605"}, {Key: "vcs.time", Value: "2026-12-02T01:00:00Z"}, {Key: "vcs.modified", Value: "true"}}},
			"mailslotd (devel) (revision 70da605, modified, 2026-12-02T01:00:00Z) go1.26.0 m"},
	}
	for _, tt := range tests {
		if got := FromBuildInfo(&tt.bi).String("mailslotd"); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	if in := Get(); !strings.HasPrefix(in.GoVersion, "go") {
		t.Errorf("Get() = %+v", in)
	}
}
