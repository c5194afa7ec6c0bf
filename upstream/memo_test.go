package upstream_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/arcgate/arcgate/upstream"
)

// A listing read again byte for byte is not decoded again; one whose bytes
// changed is, at once; folders never get each other's listings, however
// many there are (more than the memo's slots).
func TestListFolder_DecodeMemo(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	var mu sync.Mutex
	desc := map[string]string{}
	for i := range 70 {
		desc[fmt.Sprintf("F%02d", i)] = "first"
	}
	mux.HandleFunc("/services/{folder}", func(w http.ResponseWriter, r *http.Request) {
		f := r.PathValue("folder")
		mu.Lock()
		d := desc[f]
		mu.Unlock()
		writeBody(w, fmt.Sprintf(`{"folderName":%q,"description":%q,"services":[{"folderName":%q,"serviceName":"S_%s","type":"MapServer"}]}`, f, d, f, f))
	})
	ctx := context.Background()
	list := func(f string) *upstream.FolderListing {
		t.Helper()
		l, err := c.Services.ListFolder(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if l.FolderName != f || len(l.Services) != 1 || l.Services[0].ServiceName != "S_"+f {
			t.Fatalf("ListFolder(%s) = %+v", f, l)
		}
		return l
	}
	a := list("F00")
	b := list("F00")
	if upstream.MemoHits(c) != 1 || &a.Services[0] != &b.Services[0] {
		t.Errorf("hits %d, shared %v: the same bytes were decoded again", upstream.MemoHits(c), &a.Services[0] == &b.Services[0])
	}
	mu.Lock()
	desc["F00"] = "second"
	mu.Unlock()
	if l := list("F00"); l.Description != "second" || upstream.MemoHits(c) != 1 {
		t.Errorf("after a change: description %q, hits %d", l.Description, upstream.MemoHits(c))
	}
	for range 2 {
		for i := range 70 {
			list(fmt.Sprintf("F%02d", i)) // each checks it got its own folder
		}
	}
}

// A body larger than the memo keeps is decoded every time.
func TestListFolder_DecodeMemoSkipsLargeBodies(t *testing.T) {
	t.Parallel()
	c, mux := setupStatic(t)
	big := strings.Repeat("x", upstream.MemoMaxBody)
	mux.HandleFunc("/services/Big", func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, `{"folderName":"Big","description":"`+big+`","services":[]}`)
	})
	for range 2 {
		l, err := c.Services.ListFolder(context.Background(), "Big")
		if err != nil || len(l.Description) != len(big) {
			t.Fatalf("ListFolder: %v", err)
		}
	}
	if n := upstream.MemoHits(c); n != 0 {
		t.Errorf("hits = %d, want 0 for a body over the limit", n)
	}
}
