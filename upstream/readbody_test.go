package upstream

import (
	"bytes"
	"errors"
	"io"
	"net/http"
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
