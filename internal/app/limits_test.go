package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/arcgate/arcgate/gateway"
	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/rpc"
)

// Keys of the callers of startGuarded.
const (
	proberKey   = "pk-Pangolin-3310-probe"
	attackerKey = "ak-Aardvark-7789-attack"
)

// startGuarded starts arcgate in demo mode with caller authentication on
// (two read callers, prober and attacker) and its log lines in logs.
func startGuarded(t *testing.T, cfg Config, logs *syncBuffer) *App {
	t.Helper()
	creds, err := rpc.ParseCredentials(strings.NewReader(
		"prober read " + rpc.HashAPIKey(proberKey) + "\nattacker read " + rpc.HashAPIKey(attackerKey) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.Credentials = "127.0.0.1:0", "127.0.0.1:0", creds
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	})
	return a
}

// dial returns a gRPC client of a.
func dial(t *testing.T, a *App) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// probe reads a service as the prober.
func probe(conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-api-key", proberKey), 10*time.Second)
	defer cancel()
	_, err := adminv1.NewServicesServiceClient(conn).GetService(ctx, &adminv1.GetServiceRequest{Name: "services/SampleWorldCities.MapServer"})
	return err
}

// heapInUse returns the bytes of heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// h2Outcome is what the server did with a raw HTTP/2 connection.
type h2Outcome struct {
	maxHeaderList uint32 // SETTINGS_MAX_HEADER_LIST_SIZE the server announced, 0 if none
	refused       bool   // it reset a stream, sent GOAWAY or closed the connection
	answered      bool   // it answered a call with a gRPC status (processed it)
}

// rawH2Conn is a hand-driven HTTP/2 client connection, so that a test can
// send what a grpc-go client refuses to (metadata over the limit the
// server announces).
type rawH2Conn struct {
	conn net.Conn
	fr   *http2.Framer
	wmu  sync.Mutex
	enc  *hpack.Encoder
	hbuf bytes.Buffer
	out  chan h2Outcome
}

func dialRawH2(t *testing.T, addr string) *rawH2Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &rawH2Conn{conn: conn, fr: http2.NewFramer(conn, conn), out: make(chan h2Outcome, 1)}
	c.enc = hpack.NewEncoder(&c.hbuf)
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	go c.read()
	return c
}

// read reads the server's frames until the connection ends or its read
// deadline passes, then reports the outcome.
func (c *rawH2Conn) read() {
	var o h2Outcome
	fr := http2.NewFramer(io.Discard, c.conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				o.refused = true // EOF or reset: the server closed the connection
			}
			c.out <- o
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if v, ok := f.Value(http2.SettingMaxHeaderListSize); ok {
				o.maxHeaderList = v
			}
			if !f.IsAck() {
				c.wmu.Lock()
				_ = c.fr.WriteSettingsAck()
				c.wmu.Unlock()
			}
		case *http2.RSTStreamFrame, *http2.GoAwayFrame:
			o.refused = true
		case *http2.MetaHeadersFrame:
			if f.PseudoValue("status") != "" || len(f.Fields) > 0 {
				for _, hf := range f.Fields {
					if hf.Name == "grpc-status" {
						o.answered = true
					}
				}
			}
		}
	}
}

// openCall opens a gRPC call of GetService on stream id with the given
// extra metadata and sends no request message, as a client that abandons
// its calls would. It returns the write error once the server closed the
// connection.
func (c *rawH2Conn) openCall(id uint32, authority string, extra ...hpack.HeaderField) error {
	c.hbuf.Reset()
	for _, hf := range append([]hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"}, {Name: ":authority", Value: authority},
		{Name: ":path", Value: adminv1.ServicesService_GetService_FullMethodName},
		{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"},
	}, extra...) {
		if err := c.enc.WriteField(hf); err != nil {
			return err
		}
	}
	block := c.hbuf.Bytes()
	const frame = 16 << 10 // the default SETTINGS_MAX_FRAME_SIZE
	c.wmu.Lock()
	defer c.wmu.Unlock()
	first := block[:min(frame, len(block))]
	block = block[len(first):]
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndHeaders: len(block) == 0}); err != nil {
		return err
	}
	for len(block) > 0 {
		chunk := block[:min(frame, len(block))]
		block = block[len(chunk):]
		if err := c.fr.WriteContinuation(id, len(block) == 0, chunk); err != nil {
			return err
		}
	}
	return nil
}

// TestOversizedMetadataIsRefused replays the metadata attack: six
// connections open fifteen calls each with 1 MiB of metadata and no
// credentials, and abandon them. grpc-go used to accept up to 16 MB of
// metadata per call and keep it while the call waited for its request
// message (RSS went from 23 MB to 641 MB with 15 MB per call). Now the
// server announces the 64 KiB cap, closes a connection that sends more
// before keeping it or processing the call, a prober's call succeeds
// during the attack, and the heap stays within 64 MiB of idle.
func TestOversizedMetadataIsRefused(t *testing.T) {
	var logs syncBuffer
	a := startGuarded(t, Config{}, &logs)
	conn := dial(t, a)
	if err := probe(conn); err != nil {
		t.Fatal(err)
	}
	const conns, calls, mdBytes = 6, 15, 1 << 20
	pad := hpack.HeaderField{Name: "x-pad", Value: strings.Repeat("p", mdBytes)}
	idle := heapInUse()

	attack := make([]*rawH2Conn, conns)
	var wg sync.WaitGroup
	for i := range attack {
		attack[i] = dialRawH2(t, a.GRPCAddr)
		defer attack[i].conn.Close()
		wg.Go(func() {
			for j := range calls {
				if err := attack[i].openCall(uint32(2*j+1), a.GRPCAddr, pad); err != nil {
					return // the server closed the connection
				}
			}
		})
	}
	wg.Wait()
	if err := probe(conn); err != nil {
		t.Fatalf("a prober's call during the attack: %v", err)
	}
	grown := int64(heapInUse()) - int64(idle)
	for _, c := range attack {
		_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	}
	for i, c := range attack {
		o := <-c.out
		if o.maxHeaderList != gateway.DefaultMaxHeaderBytes {
			t.Errorf("connection %d: the server announced SETTINGS_MAX_HEADER_LIST_SIZE %d, want %d", i, o.maxHeaderList, gateway.DefaultMaxHeaderBytes)
		}
		if !o.refused || o.answered {
			t.Errorf("connection %d: oversized calls refused %t, processed %t; want refused, not processed", i, o.refused, o.answered)
		}
	}
	if grown > 64<<20 {
		t.Errorf("heap grew by %d MiB during the attack, want at most 64", grown>>20)
	}
}

// TestOpenCallsAreCappedPerCaller opens streams as one caller and abandons
// them (10 000 such streams from one client cost 249 MB): the calls over
// MaxConcurrentPerCaller are refused when their headers arrive, with
// RESOURCE_EXHAUSTED (RATE_LIMITED), while another caller is served, over
// gRPC and REST; the refusals make a handful of log lines.
func TestOpenCallsAreCappedPerCaller(t *testing.T) {
	const max, attempts = 20, 500
	var logs syncBuffer
	a := startGuarded(t, Config{MaxConcurrentPerCaller: max}, &logs)
	conn := dial(t, a)
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), "x-api-key", attackerKey))
	defer cancel()
	before := len(infoLines(t, logs.String()))
	var open, refused int
	for range attempts {
		s, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, adminv1.ServicesService_GetService_FullMethodName)
		if err != nil {
			t.Fatal(err)
		}
		if open < max {
			open++ // its headers went out; the server waits for its message
			continue
		}
		err = recvWithin(s, 10*time.Second)
		if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), strconv.Itoa(max)+" calls open") {
			t.Fatalf("stream %d of one caller: %v, want RESOURCE_EXHAUSTED", open+refused+1, err)
		}
		refused++
	}
	if err := probe(conn); err != nil {
		t.Fatalf("another caller while one holds its %d calls: %v", max, err)
	}
	// A REST call of the capped caller is refused too; the prober's is not.
	rest := func(key string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+a.HTTPAddr+"/v1/services/SampleWorldCities.MapServer", nil)
		req.Header.Set("X-Api-Key", key)
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := rest(attackerKey); code != http.StatusTooManyRequests {
		t.Fatalf("REST call of the capped caller: %d, want 429", code)
	}
	if code := rest(proberKey); code != http.StatusOK {
		t.Fatalf("REST call of another caller: %d", code)
	}
	if n := len(infoLines(t, logs.String())) - before; n > 5 {
		t.Fatalf("%d log lines for %d refused streams, want a handful:\n%s", n, refused, logs.String())
	}
}

// recvWithin waits for a stream's first message or status, at most d:
// a stream the server keeps open is a failure, not a hang.
func recvWithin(s grpc.ClientStream, d time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.RecvMsg(&adminv1.Service{}) }()
	select {
	case err := <-errc:
		return err
	case <-time.After(d):
		return status.Error(codes.DeadlineExceeded, "the server kept the stream open")
	}
}

// infoLines returns the log lines at Info level and above.
func infoLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if m["level"] != "DEBUG" {
			out = append(out, m)
		}
	}
	return out
}

// TestAnonymousCallsDoNotFloodTheLog makes 1 000 calls without credentials
// over gRPC and 100 over REST: each used to write two lines ("rpc
// rejected" and the call's own line). Now they make a handful: the
// refusals are logged once per interval per address and code, and the
// calls' own lines are Debug lines.
func TestAnonymousCallsDoNotFloodTheLog(t *testing.T) {
	var logs syncBuffer
	a := startGuarded(t, Config{}, &logs)
	conn := dial(t, a)
	before := len(infoLines(t, logs.String()))
	svc := adminv1.NewServicesServiceClient(conn)
	seen := map[codes.Code]int{}
	for range 1000 {
		_, err := svc.GetService(context.Background(), &adminv1.GetServiceRequest{Name: "services/SampleWorldCities.MapServer"})
		seen[status.Code(err)]++
	}
	if seen[codes.OK] != 0 || seen[codes.Unauthenticated] == 0 || seen[codes.ResourceExhausted] == 0 {
		t.Fatalf("codes %v, want UNAUTHENTICATED, then RESOURCE_EXHAUSTED once over the rate", seen)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	for range 100 {
		resp, err := (&http.Client{Transport: tr}).Get("http://" + a.HTTPAddr + "/v1/services/SampleWorldCities.MapServer")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("anonymous REST call: %d", resp.StatusCode)
		}
	}
	lines := infoLines(t, logs.String())[before:]
	if len(lines) > 5 {
		t.Fatalf("%d log lines for 1 100 refused calls, want a handful:\n%s", len(lines), logs.String())
	}
	for _, l := range lines {
		if l["msg"] != "rpc rejected" {
			t.Fatalf("unexpected line %v", l)
		}
	}
	if err := probe(conn); err != nil {
		t.Fatalf("a known caller from the same address: %v", err)
	}
}
