package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/arcgate/arcgate/upstream"
)

func TestError_Error(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *upstream.Error
		want string
	}{
		{"api", &upstream.Error{Kind: upstream.KindAPI, Op: "services.get", Method: "GET", Path: "services/BZK1.MapServer",
			HTTPStatus: 200, Code: 404, Messages: []string{"Could not find resource or operation 'BZK1.MapServer' on the system."}},
			"upstream: services.get: GET admin/services/BZK1.MapServer: upstream error code 404: Could not find resource or operation 'BZK1.MapServer' on the system."},
		{"api with http status", &upstream.Error{Kind: upstream.KindAPI, Op: "services.start", Method: "POST", Path: "services/A.MapServer/start",
			HTTPStatus: 500, Code: 500, Messages: []string{"a", "b"}},
			"upstream: services.start: POST admin/services/A.MapServer/start: upstream error code 500 (HTTP 500): a; b"},
		{"http", &upstream.Error{Kind: upstream.KindHTTP, Op: "site.info", Method: "GET", HTTPStatus: 502},
			"upstream: site.info: GET admin/: HTTP 502 Bad Gateway"},
		{"transport", &upstream.Error{Kind: upstream.KindTransport, Op: "services.listRoot", Method: "GET", Path: "services", Err: context.Canceled},
			"upstream: services.listRoot: GET admin/services: transport error: context canceled"},
		{"decode", &upstream.Error{Kind: upstream.KindDecode, Op: "x", Method: "GET", Path: "p", HTTPStatus: 200, Err: errors.New("bad")},
			"upstream: x: GET admin/p: cannot decode response (HTTP 200): bad"},
		{"too large", &upstream.Error{Kind: upstream.KindTooLarge, Op: "x", Method: "GET", Path: "p", HTTPStatus: 200, Err: errors.New("over")},
			"upstream: x: GET admin/p: response too large: over"},
		{"token", &upstream.Error{Kind: upstream.KindToken, Op: "generateToken", Method: "POST", Path: "generateToken", HTTPStatus: 200, Code: 400,
			Messages: []string{"Unable to generate token."}},
			"upstream: generateToken: POST admin/generateToken: obtaining a token failed: upstream error code 400: Unable to generate token."},
		{"invalid", &upstream.Error{Kind: upstream.KindInvalid, Op: "services.get", Messages: []string{"service name is empty"}},
			"upstream: services.get: invalid argument: service name is empty"},
		{"redacts token params", &upstream.Error{Kind: upstream.KindTransport, Op: "x", Method: "GET", Path: "p",
			Err: errors.New(`Get "https://h/arcgis/admin/p?f=json&TOKEN=abc123&x=1": EOF; password=hunter2`)},
			`upstream: x: GET admin/p: transport error: Get "https://h/arcgis/admin/p?f=json&TOKEN=REDACTED&x=1": EOF; password=REDACTED`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestError_UnwrapAndHelpers(t *testing.T) {
	t.Parallel()
	cause := &url.Error{Op: "Get", URL: "https://h/arcgis/admin/", Err: context.DeadlineExceeded}
	transport := &upstream.Error{Kind: upstream.KindTransport, Err: cause}
	if !errors.Is(fmt.Errorf("wrapped: %w", transport), context.DeadlineExceeded) {
		t.Error("errors.Is through Unwrap failed")
	}
	tests := []struct {
		err         error
		notFound    bool
		auth        bool
		description string
	}{
		{&upstream.Error{Kind: upstream.KindAPI, Code: 404}, true, false, "code 404"},
		{&upstream.Error{Kind: upstream.KindHTTP, HTTPStatus: 404}, true, false, "HTTP 404"},
		{fmt.Errorf("ctx: %w", &upstream.Error{Kind: upstream.KindAPI, Code: 404}), true, false, "wrapped 404"},
		{&upstream.Error{Kind: upstream.KindAPI, Code: 498}, false, true, "498"},
		{&upstream.Error{Kind: upstream.KindAPI, Code: 499}, false, true, "499"},
		{&upstream.Error{Kind: upstream.KindHTTP, HTTPStatus: 499}, false, true, "HTTP 499"},
		{&upstream.Error{Kind: upstream.KindToken, Code: 400}, false, true, "token"},
		{&upstream.Error{Kind: upstream.KindAPI, Code: 403}, false, false, "403"},
		{&upstream.Error{Kind: upstream.KindAPI, Code: 500, HTTPStatus: 200}, false, false, "500"},
		{transport, false, false, "transport"},
		{errors.New("plain"), false, false, "plain"},
		{nil, false, false, "nil"},
	}
	for _, tt := range tests {
		if got := upstream.IsNotFound(tt.err); got != tt.notFound {
			t.Errorf("%s: IsNotFound = %v", tt.description, got)
		}
		if got := upstream.IsAuth(tt.err); got != tt.auth {
			t.Errorf("%s: IsAuth = %v", tt.description, got)
		}
	}
}

func TestKind_String(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, k := range []upstream.Kind{upstream.KindAPI, upstream.KindHTTP, upstream.KindTransport,
		upstream.KindDecode, upstream.KindTooLarge, upstream.KindToken, upstream.KindInvalid} {
		s := k.String()
		if s == "" || strings.HasPrefix(s, "Kind(") || seen[s] {
			t.Errorf("Kind %d String() = %q", int(k), s)
		}
		seen[s] = true
	}
	if got := upstream.Kind(0).String(); got != "Kind(0)" {
		t.Errorf("Kind(0) = %q", got)
	}
}
