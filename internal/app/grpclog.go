package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"google.golang.org/grpc/grpclog"
)

// slogGRPC is grpc-go's logger (grpclog, which grpc-gateway uses too) over
// arcgate's slog logger, so that their lines are structured like arcgate's
// and go where arcgate's go, rather than to stderr in grpclog's own
// format. grpc's Info lines are Debug here: they describe connections
// opening and closing, which is noise at arcgate's Info level. So are its
// warnings about one stream (perStreamWarnings), which a client causes by
// resetting or abandoning its calls: 10 000 abandoned streams would make
// 10 000 warnings.
type slogGRPC struct{ log *slog.Logger }

// perStreamWarnings are the grpc-go server warnings about one stream, which
// clients cause at will (a stream reset before its status was written, a
// malformed header, an unknown codec): slogGRPC writes them at Debug level.
var perStreamWarnings = []string{
	"failed to write status",                   // Server.processRPC, Server.handleStream
	"Encountered http2.StreamError",            // transport: a stream the client broke
	"Failed to decode metadata header",         // transport: bad binary metadata (quotes the value)
	"Encountered error while encoding headers", // transport: one stream's headers
	"Unsupported codec",                        // a content-subtype the client chose
}

// warn writes a grpc warning, at Debug level when it is about one stream.
func (l slogGRPC) warn(msg string) {
	for _, s := range perStreamWarnings {
		if strings.Contains(msg, s) {
			l.emit(slog.LevelDebug, msg)
			return
		}
	}
	l.emit(slog.LevelWarn, msg)
}

var _ grpclog.LoggerV2 = slogGRPC{}

func (l slogGRPC) emit(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, msg, slog.String("component", "grpc"))
}

func (l slogGRPC) Info(args ...any)   { l.emit(slog.LevelDebug, fmt.Sprint(args...)) }
func (l slogGRPC) Infoln(args ...any) { l.emit(slog.LevelDebug, sprintln(args...)) }
func (l slogGRPC) Infof(format string, args ...any) {
	l.emit(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (l slogGRPC) Warning(args ...any)   { l.warn(fmt.Sprint(args...)) }
func (l slogGRPC) Warningln(args ...any) { l.warn(sprintln(args...)) }
func (l slogGRPC) Warningf(format string, args ...any) {
	l.warn(fmt.Sprintf(format, args...))
}
func (l slogGRPC) Error(args ...any)   { l.emit(slog.LevelError, fmt.Sprint(args...)) }
func (l slogGRPC) Errorln(args ...any) { l.emit(slog.LevelError, sprintln(args...)) }
func (l slogGRPC) Errorf(format string, args ...any) {
	l.emit(slog.LevelError, fmt.Sprintf(format, args...))
}

// Fatal, Fatalln and Fatalf log and exit, as grpclog requires.
func (l slogGRPC) Fatal(args ...any)   { l.Error(args...); os.Exit(1) }
func (l slogGRPC) Fatalln(args ...any) { l.Errorln(args...); os.Exit(1) }
func (l slogGRPC) Fatalf(format string, args ...any) {
	l.Errorf(format, args...)
	os.Exit(1)
}

// V reports whether verbosity level v is logged: grpc's verbose lines are
// Debug lines, logged when the logger's Debug level is.
func (l slogGRPC) V(v int) bool {
	return v <= 0 || l.log.Enabled(context.Background(), slog.LevelDebug)
}

// sprintln is fmt.Sprintln without its final newline.
func sprintln(args ...any) string {
	s := fmt.Sprintln(args...)
	return s[:len(s)-1]
}
