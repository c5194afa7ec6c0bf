package rpc

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/arcgate/arcgate/apierr"
	"github.com/arcgate/arcgate/upstream"
)

// Metadata names of delegated mode: a gRPC caller sends its own ArcGIS
// credentials in them (REST callers send HTTP headers of the same names,
// which the gateway forwards), and arcgate makes the upstream calls of that
// RPC with a token of that identity instead of its service identity.
const (
	// MetadataArcGISToken carries an ArcGIS token used as is (never
	// refreshed; once the upstream rejects it, calls fail UNAUTHENTICATED).
	MetadataArcGISToken = "x-arcgis-token"
	// MetadataArcGISUsername carries an ArcGIS account name, sent with
	// MetadataArcGISPassword; arcgate mints and refreshes its tokens.
	MetadataArcGISUsername = "x-arcgis-username"
	// MetadataArcGISPassword carries the password of MetadataArcGISUsername.
	MetadataArcGISPassword = "x-arcgis-password"
)

// delegatedMethodPrefix selects the methods delegated mode applies to:
// arcgate's own services (health checks and reflection never call the
// upstream).
const delegatedMethodPrefix = "/arcgate.admin.v1."

// DelegatedAuth says whether callers may act upstream as themselves.
type DelegatedAuth int

const (
	// DelegatedAuthOff: every call acts upstream as the gateway's service
	// identity; a call carrying x-arcgis-* metadata is refused with
	// INVALID_ARGUMENT, so that no caller believes it acts as itself when it
	// does not. The default.
	DelegatedAuthOff DelegatedAuth = iota
	// DelegatedAuthOptional: a call carrying x-arcgis-* metadata acts as
	// that identity; a call without acts as the service identity.
	DelegatedAuthOptional
	// DelegatedAuthRequired: every call must carry x-arcgis-* metadata;
	// a call without is refused with UNAUTHENTICATED
	// (DELEGATED_CREDENTIALS_REQUIRED) before any upstream request. The
	// service identity is then used by nothing but arcgate itself.
	DelegatedAuthRequired
)

// String returns the configuration spelling: "off", "optional" or
// "required".
func (d DelegatedAuth) String() string {
	switch d {
	case DelegatedAuthOff:
		return "off"
	case DelegatedAuthOptional:
		return "optional"
	case DelegatedAuthRequired:
		return "required"
	default:
		return fmt.Sprintf("DelegatedAuth(%d)", int(d))
	}
}

// ParseDelegatedAuth parses "off", "optional" or "required".
func ParseDelegatedAuth(s string) (DelegatedAuth, error) {
	switch s {
	case "off":
		return DelegatedAuthOff, nil
	case "optional":
		return DelegatedAuthOptional, nil
	case "required":
		return DelegatedAuthRequired, nil
	}
	return 0, fmt.Errorf("delegated auth must be off, optional or required, not %q", s)
}

// DelegatedAuthInterceptors return the interceptors of delegated mode,
// innermost of the chain (NewChain), so that refusals are logged and
// recovered like any error and come after the Guard's. For arcgate's own
// methods (their full names start with /arcgate.admin.v1.) they read the
// x-arcgis-* metadata, validate it before any upstream request
// (INVALID_ARGUMENT naming the metadata key; the values are never echoed),
// apply mode, and put the identity in the context with
// upstream.WithIdentity.
func DelegatedAuthInterceptors(mode DelegatedAuth) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	d := delegation{mode: mode}
	return d.unary, d.stream
}

// delegation is the state of the delegated-mode interceptors.
type delegation struct{ mode DelegatedAuth }

func (d delegation) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if !strings.HasPrefix(info.FullMethod, delegatedMethodPrefix) {
		return next(ctx, req)
	}
	ctx, err := d.context(ctx)
	if err != nil {
		return nil, err
	}
	return next(ctx, req)
}

func (d delegation) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	if !strings.HasPrefix(info.FullMethod, delegatedMethodPrefix) {
		return next(srv, ss)
	}
	ctx, err := d.context(ss.Context())
	if err != nil {
		return err
	}
	return next(srv, &contextStream{ServerStream: ss, ctx: ctx})
}

// context applies delegated mode to a call of one of arcgate's methods
// (the interceptors let no other through).
func (d delegation) context(ctx context.Context) (context.Context, error) {
	var md metadata.MD
	if sentDelegated(ctx) {
		md, _ = metadata.FromIncomingContext(ctx) // a copy: only then
	}
	id, key, err := delegatedIdentity(md)
	if err != nil {
		return nil, err
	}
	switch {
	case d.mode == DelegatedAuthOff && !id.IsZero():
		return nil, apierr.InvalidArgument(key, "delegated authentication is not enabled on this gateway")
	case d.mode == DelegatedAuthRequired && id.IsZero():
		return nil, apierr.New(codes.Unauthenticated, reasonDelegatedCredsRequired,
			"this gateway calls the upstream as its callers: send "+MetadataArcGISToken+", or "+
				MetadataArcGISUsername+" and "+MetadataArcGISPassword, nil)
	case d.mode == DelegatedAuthOff:
		return ctx, nil
	}
	return upstream.WithIdentity(ctx, id), nil
}

// sentDelegated reports whether the call in ctx carries any x-arcgis-*
// metadata. It looks the keys up one by one: most calls carry none, and
// metadata.FromIncomingContext would copy all of a call's metadata.
func sentDelegated(ctx context.Context) bool {
	for _, k := range [...]string{MetadataArcGISToken, MetadataArcGISUsername, MetadataArcGISPassword} {
		if metadata.ValueFromIncomingContext(ctx, k) != nil {
			return true
		}
	}
	return false
}

// Limits of delegated metadata values (the upstream package applies the
// same ones).
const (
	maxDelegatedUsername = 256
	maxDelegatedPassword = 1024
	maxDelegatedToken    = 8192
)

// delegatedIdentity reads the x-arcgis-* metadata: the zero Identity when
// there is none, else the identity and the key it came from. Errors are
// INVALID_ARGUMENT naming the offending key, never its value.
func delegatedIdentity(md metadata.MD) (upstream.Identity, string, error) {
	tok, tokSent, err := delegatedValue(md, MetadataArcGISToken, maxDelegatedToken)
	if err != nil {
		return upstream.Identity{}, "", err
	}
	user, userSent, err := delegatedValue(md, MetadataArcGISUsername, maxDelegatedUsername)
	if err != nil {
		return upstream.Identity{}, "", err
	}
	pw, pwSent, err := delegatedValue(md, MetadataArcGISPassword, maxDelegatedPassword)
	if err != nil {
		return upstream.Identity{}, "", err
	}
	switch {
	case tokSent && (userSent || pwSent):
		return upstream.Identity{}, "", apierr.InvalidArgument(MetadataArcGISToken, "send either a token or a username and password, not both")
	case tokSent:
		return upstream.TokenIdentity(tok), MetadataArcGISToken, nil
	case userSent && !pwSent:
		return upstream.Identity{}, "", apierr.InvalidArgument(MetadataArcGISPassword, "required with "+MetadataArcGISUsername)
	case pwSent && !userSent:
		return upstream.Identity{}, "", apierr.InvalidArgument(MetadataArcGISUsername, "required with "+MetadataArcGISPassword)
	case userSent:
		return upstream.CredentialsIdentity(user, pw), MetadataArcGISUsername, nil
	}
	return upstream.Identity{}, "", nil
}

// delegatedValue returns the single value of key, whether it was sent, and
// an INVALID_ARGUMENT error when it was sent several times, empty, too
// long, or with characters that are not printable ASCII.
func delegatedValue(md metadata.MD, key string, maxLen int) (string, bool, error) {
	vs := md.Get(key)
	switch {
	case len(vs) == 0:
		return "", false, nil
	case len(vs) > 1:
		return "", true, apierr.InvalidArgument(key, "must be sent once")
	case vs[0] == "":
		return "", true, apierr.InvalidArgument(key, "must not be empty")
	case len(vs[0]) > maxLen:
		return "", true, apierr.InvalidArgument(key, fmt.Sprintf("must be at most %d bytes", maxLen))
	}
	for i := 0; i < len(vs[0]); i++ {
		if c := vs[0][i]; c < 0x20 || c > 0x7e {
			return "", true, apierr.InvalidArgument(key, "must be printable ASCII")
		}
	}
	return vs[0], true, nil
}
