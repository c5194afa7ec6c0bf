package app

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestGRPCLogLinesGoThroughSlog(t *testing.T) {
	for _, tc := range []struct {
		name      string
		debug     bool
		log       func(l slogGRPC)
		wantLevel string // "" when nothing is written
		wantMsg   string
	}{
		{"info hidden at Info", false, func(l slogGRPC) { l.Infof("channel %d created", 1) }, "", ""},
		{"info shown at Debug", true, func(l slogGRPC) { l.Infoln("channel", 1, "created") }, "DEBUG", "channel 1 created"},
		{"warning", false, func(l slogGRPC) { l.Warning("slow ", "peer") }, "WARN", "slow peer"},
		{"warningf", false, func(l slogGRPC) { l.Warningf("retry %s", "later") }, "WARN", "retry later"},
		{"error", false, func(l slogGRPC) { l.Errorf("Failed to write response: %v", "broken pipe") }, "ERROR", "Failed to write response: broken pipe"},
		{"errorln", false, func(l slogGRPC) { l.Errorln("a", "b") }, "ERROR", "a b"},
		// Per-stream warnings, which a client causes at will (10 000
		// abandoned streams made 10 000 of the first), are Debug lines.
		{"failed to write status hidden at Info", false, func(l slogGRPC) {
			l.Warningln("[core]", "grpc: Server.processRPC failed to write status: connection error: desc = \"transport is closing\"")
		}, "", ""},
		{"failed to write status shown at Debug", true, func(l slogGRPC) {
			l.Warningf("[core] grpc: Server.handleStream failed to write status: %v", "stream error")
		}, "DEBUG", "[core] grpc: Server.handleStream failed to write status: stream error"},
		{"stream error hidden at Info", false, func(l slogGRPC) { l.Warningf("[transport] Encountered http2.StreamError: %v", "x") }, "", ""},
		{"bad binary metadata hidden at Info", false, func(l slogGRPC) {
			l.Warningf("[transport] Failed to decode metadata header (%q, %q): %v", "k-bin", "!!", "illegal base64")
		}, "", ""},
		{"unsupported codec hidden at Info", false, func(l slogGRPC) { l.Warningf("[core] Unsupported codec %q.", "xml") }, "", ""},
		{"other warnings stay", false, func(l slogGRPC) { l.Warningln("[core]", "Adjusting keepalive ping interval") }, "WARN", "[core] Adjusting keepalive ping interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			level := slog.LevelInfo
			if tc.debug {
				level = slog.LevelDebug
			}
			l := slogGRPC{slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))}
			tc.log(l)
			if tc.wantLevel == "" {
				if buf.Len() != 0 {
					t.Fatalf("wrote %s, want nothing", buf.String())
				}
				return
			}
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("%v: %s", err, buf.String())
			}
			if rec["level"] != tc.wantLevel || rec["msg"] != tc.wantMsg || rec["component"] != "grpc" {
				t.Fatalf("got %s, want level %s, msg %q, component grpc", strings.TrimSpace(buf.String()), tc.wantLevel, tc.wantMsg)
			}
			if l.V(2) != tc.debug || !l.V(0) {
				t.Fatalf("V(2) = %t, V(0) = %t with Debug %t", l.V(2), l.V(0), tc.debug)
			}
		})
	}
}
