package rpc

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// rawCodec puts bytes on the wire as they are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// TestMalformedRequests: with arcgate's codec, services registered through
// MalformedRequests answer a request that does not decode
// INVALID_ARGUMENT, unary and streaming; well-formed requests are served.
// With another codec the handlers still serve well-formed requests (and
// malformed ones stay INTERNAL, grpc-go's answer).
func TestMalformedRequests(t *testing.T) {
	const (
		check = "/grpc.health.v1.Health/Check"
		watch = "/grpc.health.v1.Health/Watch"
	)
	valid := []byte{}                                     // HealthCheckRequest{}
	invalidUTF8 := []byte{0x0a, 0x03, 'a', 0xff, 0xfe}    // service: "a\xff\xfe"
	garbage := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} // not protobuf
	for _, tc := range []struct {
		name      string
		opts      []grpc.ServerOption
		malformed codes.Code
	}{
		{"arcgate codec", []grpc.ServerOption{CodecOption()}, codes.InvalidArgument},
		{"grpc codec", nil, codes.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := grpc.NewServer(tc.opts...)
			grpc_health_v1.RegisterHealthServer(NewMalformedRequests(srv), health.NewServer())
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { defer close(done); _ = srv.Serve(lis) }()
			defer func() { srv.Stop(); <-done }()
			conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()

			unary := func(body []byte) error {
				var out []byte
				return conn.Invoke(ctx, check, body, &out, grpc.ForceCodec(rawCodec{}))
			}
			stream := func(body []byte) error {
				s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, watch, grpc.ForceCodec(rawCodec{}))
				if err != nil {
					return err
				}
				if err := s.SendMsg(body); err != nil {
					return err
				}
				_ = s.CloseSend()
				var out []byte
				return s.RecvMsg(&out) // Watch answers once at once
			}
			for _, call := range []struct {
				name string
				fn   func([]byte) error
			}{{"unary", unary}, {"stream", stream}} {
				if err := call.fn(valid); err != nil {
					t.Errorf("%s, well-formed: %v", call.name, err)
				}
				for _, body := range [][]byte{invalidUTF8, garbage} {
					if err := call.fn(body); status.Code(err) != tc.malformed {
						t.Errorf("%s, %x: %v, want %v", call.name, body, err, tc.malformed)
					}
				}
			}
		})
	}
}
