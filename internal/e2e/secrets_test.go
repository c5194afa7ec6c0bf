package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/simulator"
)

// TestSecretsNeverLeak runs a full scenario — reads, writes, errors, token
// rejections, a refused password — with a distinctive upstream password,
// caller API key and the tokens the simulator hands out, and checks that
// none of them appears in any log line (arcgate's, the audit's and the
// simulator's), any error a caller sees over gRPC or REST, or any URL that
// left the process (not even as a token parameter), and that the password
// travels only in the body of generateToken.
func TestSecretsNeverLeak(t *testing.T) {
	e := startHard(t, hardOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var seen []string // everything a caller saw
	grpcErr := func(err error) {
		if err != nil {
			if b, merr := protojson.Marshal(status.Convert(err).Proto()); merr == nil {
				seen = append(seen, string(b))
			}
		}
	}
	rest := func(method, path, body string) int {
		st, _, raw := e.restCall(t, method, path, body)
		seen = append(seen, raw)
		return st
	}

	// Reads and writes over gRPC.
	_, err := e.services.ListFolders(ctx, &adminv1.ListFoldersRequest{})
	grpcErr(err)
	_, err = e.services.GetService(ctx, &adminv1.GetServiceRequest{Name: faultSvcName})
	grpcErr(err)
	_, err = e.services.CreateFolder(ctx, &adminv1.CreateFolderRequest{FolderId: "Vault", Folder: &adminv1.Folder{Description: "secrets?"}})
	grpcErr(err)
	_, err = e.services.UpdateFolder(ctx, &adminv1.UpdateFolderRequest{Folder: &adminv1.Folder{Name: "folders/Vault", Description: "no"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
	grpcErr(err)
	_, err = done[adminv1.Service](ctx, e.conn)(e.services.StopService(ctx, &adminv1.StopServiceRequest{Name: faultSvcName}))
	grpcErr(err)
	_, err = done[adminv1.Service](ctx, e.conn)(e.services.StartService(ctx, &adminv1.StartServiceRequest{Name: faultSvcName}))
	grpcErr(err)
	// Errors: not found, invalid argument.
	_, err = e.services.GetService(ctx, &adminv1.GetServiceRequest{Name: "services/Missing.MapServer"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("missing service: %v", err)
	}
	grpcErr(err)
	_, err = e.services.GetService(ctx, &adminv1.GetServiceRequest{Name: "services/no-type"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("invalid name: %v", err)
	}
	grpcErr(err)

	// The same over REST.
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, "/v1/folders", ""},
		{http.MethodGet, faultReadREST, ""},
		{http.MethodPost, faultWriteREST, ""},
		{http.MethodGet, "/v1/services/Missing.MapServer", ""},
		{http.MethodDelete, "/v1/folders/Vault", ""},
	} {
		rest(c.method, c.path, c.body)
	}

	// Token trouble: every token rejected (a refresh, a retry, then an
	// error), then the password refused by generateToken.
	e.sim.InjectFault(simulator.Fault{Kind: simulator.FaultTokenInvalid, Path: "services/"})
	_, err = e.services.GetService(ctx, &adminv1.GetServiceRequest{Name: faultSvcName})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("498 storm: %v", err)
	}
	grpcErr(err)
	rest(http.MethodPost, faultWriteREST, "")
	e.sim.ClearFaults()
	e.sim.SetCredentials(simulator.DefaultUsername, "another-password")
	e.sim.RevokeAllTokens() // the cached token is now rejected: a refresh is needed
	_, err = e.services.ListFolders(ctx, &adminv1.ListFoldersRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong password: %v", err)
	}
	grpcErr(err)
	rest(http.MethodGet, "/v1/folders", "")

	sent, tokens := e.wire.snapshot()
	if len(tokens) < 2 {
		t.Fatalf("the scenario saw %d tokens, want at least 2 (one refresh)", len(tokens))
	}
	for _, s := range seen {
		assertNoSecret(t, "what a caller saw", s, tokens)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"audit"`) || !strings.Contains(logs, `"msg":"rpc"`) {
		t.Fatalf("the scenario logged no audit or rpc line:\n%s", logs)
	}
	assertNoSecret(t, "log", logs, tokens)

	for _, r := range sent {
		u, err := url.Parse(r.url)
		if err != nil {
			t.Fatal(err)
		}
		// No token in any URL: GETs carry it in the X-Esri-Authorization
		// header (the simulator reads it), POSTs in the body.
		assertNoSecret(t, "URL", r.url, tokens)
		if u.Query().Has("token") {
			t.Errorf("%s %s carries a token parameter in its URL", r.method, u.Path)
		}
		if r.method != http.MethodGet && u.RawQuery != "" {
			t.Errorf("%s %s carries a query string; parameters belong in the body", r.method, u.Path)
		}
		// The password goes to generateToken, in the body, and nowhere else.
		isGenerate := strings.HasSuffix(u.Path, "/generateToken")
		if form, _ := url.ParseQuery(r.body); form.Get("password") != "" && !isGenerate {
			t.Errorf("%s %s sends a password", r.method, u.Path)
		}
		if !isGenerate {
			assertNoSecret(t, "request body", r.body, nil)
		}
	}
}
