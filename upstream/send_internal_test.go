package upstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestReadBodyTakesBufferedBody checks that the client takes the body the
// resilient transport read (bufferedBody) as it is, without a copy, and
// that it reads the same bytes and error through it as through any body.
func TestReadBodyTakesBufferedBody(t *testing.T) {
	data := []byte(`{"folderName":"Bulk"}`)
	resp := &http.Response{Body: newBufferedBody(data, nil), ContentLength: int64(len(data))}
	got, err := readBody(resp, int64(len(data))+1)
	if err != nil || !bytes.Equal(got, data) || &got[0] != &data[0] {
		t.Fatalf("readBody = %q, %v; want the buffered bytes themselves", got, err)
	}

	cut := errors.New("connection reset")
	resp = &http.Response{Body: newBufferedBody(data[:5], cut), ContentLength: -1}
	if got, err := readBody(resp, 100); !bytes.Equal(got, data[:5]) || err != cut {
		t.Fatalf("readBody of a failed body = %q, %v", got, err)
	}
	if got, err := io.ReadAll(newBufferedBody(data[:5], cut)); !bytes.Equal(got, data[:5]) || err != cut {
		t.Fatalf("reading a failed body = %q, %v", got, err)
	}

	b := newBufferedBody(data, nil)
	head := make([]byte, 3)
	if _, err := io.ReadFull(b, head); err != nil {
		t.Fatal(err)
	}
	if rest, err := readBody(&http.Response{Body: b, ContentLength: -1}, 100); err != nil || string(head)+string(rest) != string(data) {
		t.Fatalf("readBody after 3 bytes = %q, %v", rest, err)
	}
	if n, err := b.Read(head); n != 0 || err != io.EOF {
		t.Fatalf("read after readBody: %d, %v", n, err)
	}

	// Over the limit: read up to it, as any body.
	resp = &http.Response{Body: newBufferedBody(data, nil), ContentLength: int64(len(data))}
	if got, err := readBody(resp, 4); err != nil || string(got) != string(data[:4]) {
		t.Fatalf("readBody with limit 4 = %q, %v", got, err)
	}
}

// TestEncodeParams checks that encodeParams encodes a request's
// parameters exactly as url.Values.Encode of the map send used to build.
func TestEncodeParams(t *testing.T) {
	for _, src := range []url.Values{
		nil,
		{},
		{"f": {"pjson"}, "token": {"old"}},
		{"a": {"1", "2"}, "Z": {"x y"}, "é&=": {"&?#"}, "": {""}, "b": nil},
		{"services": {`[{"serviceName":"A"}]`}, "folderName": {"F"}},
		{"1": {"a"}, "2": {"b"}, "3": {"c"}, "4": {"d"}, "5": {"e"}, "6": {"f"}, "7": {"g"}, "8": {"h"}, "9": {"i"}},
	} {
		for _, token := range []string{"", "tok+/=en"} {
			want := requestParams(src, token).Encode()
			var b strings.Builder
			if encodeParams(&b, src, token); b.String() != want {
				t.Errorf("encodeParams(%v, %q) = %q, want %q", src, token, b.String(), want)
			}
		}
	}
}

// TestSetHeaders checks the headers of a request, and that a value added
// to one of them later does not overwrite another (they share one slice).
func TestSetHeaders(t *testing.T) {
	w := &wire{userAgent: "ua", referer: "https://ref"}
	ctx := WithRequestID(context.Background(), "req-1")
	h := http.Header{}
	w.setHeaders(ctx, h, true, "text/plain", "tok", true)
	want := http.Header{}
	want.Set("Content-Type", "text/plain")
	want.Set("Accept", acceptHeader)
	want.Set("User-Agent", "ua")
	want.Set("X-Esri-Authorization", "Bearer tok")
	want.Set("Referer", "https://ref")
	want.Set("X-Request-Id", "req-1")
	h.Add("Accept", "more")
	want.Add("Accept", "more")
	if !equalHeaders(h, want) {
		t.Fatalf("headers %v, want %v", h, want)
	}
	h = http.Header{}
	w.setHeaders(WithRequestID(context.Background(), "bad id"), h, false, "", "tok", false)
	if len(h) != 3 || h.Get("Accept") != acceptHeader || h.Get("User-Agent") != "ua" || h.Get("Referer") != "https://ref" {
		t.Fatalf("headers %v", h)
	}
	if w.bearer("a") != "Bearer a" || w.bearer("b") != "Bearer b" || w.bearer("b") != "Bearer b" {
		t.Fatal("bearer")
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w := b[k]
		if len(v) != len(w) {
			return false
		}
		for i := range v {
			if v[i] != w[i] {
				return false
			}
		}
	}
	return true
}

// TestServiceRefPathWith checks that pathWith is Path and the suffix.
func TestServiceRefPathWith(t *testing.T) {
	for _, ref := range []ServiceRef{
		{Name: "A", Type: "MapServer"},
		{Folder: "/", Name: "A", Type: "MapServer"},
		{Folder: "Utilities", Name: "Geometry", Type: "GeometryServer"},
		{Folder: "a b", Name: "c/d", Type: "e?f"},
	} {
		for _, suffix := range []string{"", "/status", "/iteminfo"} {
			if got, want := ref.pathWith(suffix), folderPath(ref.Folder)+url.PathEscape(ref.Name)+"."+url.PathEscape(ref.Type)+suffix; got != want {
				t.Errorf("%+v.pathWith(%q) = %q, want %q", ref, suffix, got, want)
			}
		}
	}
}
