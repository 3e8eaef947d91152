//go:build !windows

package mailslot

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mailslot-go/mailslot/internal/local"
	"github.com/mailslot-go/mailslot/internal/stream"
)

// exported lists the package's error values by name; a new one must be
// added here, and the tests below then hold its documentation.
var exported = map[string]error{
	"ErrInvalidName": ErrInvalidName, "ErrAlreadyExists": ErrAlreadyExists, "ErrNotFound": ErrNotFound,
	"ErrTimeout": ErrTimeout, "ErrBufferTooSmall": ErrBufferTooSmall, "ErrMessageTooLarge": ErrMessageTooLarge,
	"ErrClosed": ErrClosed, "ErrPermission": ErrPermission, "ErrUnreachable": ErrUnreachable,
}

// errorDocs returns each Err variable of errors.go with its doc comment.
func errorDocs(t *testing.T) map[string]string {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for _, id := range vs.Names {
				if strings.HasPrefix(id.Name, "Err") {
					docs[id.Name] = vs.Doc.Text()
				}
			}
		}
		return true
	})
	return docs
}

// Each error's godoc quotes its text, exactly.
func TestErrorDocsQuoteTheText(t *testing.T) {
	docs := errorDocs(t)
	for name, err := range exported {
		doc, ok := docs[name]
		if !ok {
			t.Errorf("%s is not declared in errors.go", name)
			continue
		}
		doc = strings.Join(strings.Fields(doc), " ")
		if !strings.HasPrefix(doc, name+` ("`+err.Error()+`"): `) {
			t.Errorf("the doc of %s does not begin %s (%q): %q", name, name, err.Error(), doc)
		}
	}
	for name := range docs {
		if _, ok := exported[name]; !ok {
			t.Errorf("errors.go declares %s, which this test does not know", name)
		}
	}
}

// The README lists exactly the errors the package has.
func TestReadmeListsTheErrors(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "// Errors, for errors.Is:")
	if i < 0 {
		t.Fatal("README.md has no error list (// Errors, for errors.Is:)")
	}
	list := readme[i:]
	list = list[:strings.Index(list, "```")]
	var named []string
	for _, m := range regexp.MustCompile(`(?:^|[^.\w])(Err[A-Z]\w*)`).FindAllStringSubmatch(list, -1) {
		if !slices.Contains(named, m[1]) { // fs.ErrClosed and the like are not ours
			named = append(named, m[1])
		}
	}
	for _, n := range named {
		if _, ok := exported[n]; !ok {
			t.Errorf("README.md lists %s, which the package does not have", n)
		}
	}
	for n := range exported {
		if !slices.Contains(named, n) {
			t.Errorf("README.md does not list %s", n)
		}
	}
}

// The exported limit is written as its value in the source (so that godoc
// shows the number) and is the transports' own.
func TestMaxLocalMessageSize(t *testing.T) {
	if limits := []int{MaxLocalMessageSize, local.MaxRecord, stream.MaxData}; slices.Min(limits) != slices.Max(limits) {
		t.Fatalf("MaxLocalMessageSize %d, local.MaxRecord %d, stream.MaxData %d", MaxLocalMessageSize, local.MaxRecord, stream.MaxData)
	}
}
