package simulator_test

import (
	"net/http"
	"testing"

	"github.com/arcgate/arcgate/simulator"
)

// TestRouteRules pins the rules every route table applies before a handler
// runs, one or more routes of each table: operations are POST only (405),
// and a segment below a route that does not nest is unknown (404 naming it),
// both checked before the resource the route belongs to is looked at.
func TestRouteRules(t *testing.T) {
	const (
		svc    = "services/SampleWorldCities.MapServer/"
		gp     = "services/System/PublishingTools.GPServer/"
		report = "usagereports/1394223588659/"
	)
	tests := []struct {
		method, rel string
		code        int
	}{
		// admin
		{http.MethodGet, "generateToken/x", 404},
		{http.MethodGet, "publicKey/x", 404},
		// services
		{http.MethodGet, "services/createFolder", 405},
		{http.MethodGet, "services/createService", 405},
		{http.MethodGet, "services/exists/x", 404},
		// folder
		{http.MethodGet, "services/System/editFolder", 405},
		{http.MethodPost, "services/System/deleteFolder/x", 404},
		// service
		{http.MethodGet, svc + "start", 405},
		{http.MethodGet, svc + "edit", 405},
		{http.MethodGet, svc + "status/x", 404},
		// jobs, job (the job does not exist: the method is checked first)
		{http.MethodGet, gp + "jobs/purgeQueue", 405},
		{http.MethodGet, gp + "jobs/query/x", 404},
		{http.MethodGet, gp + "jobs/jnope/cancel", 405},
		{http.MethodPost, gp + "jobs/jnope/delete/x", 404},
		// usage reports
		{http.MethodGet, "usagereports/add", 405},
		{http.MethodGet, report + "edit", 405},
		{http.MethodGet, report + "data/x", 404},
		// roles: all operations
		{http.MethodGet, rolesRel + "/getRoles", 405},
		{http.MethodGet, rolesRel + "/search", 405},
		{http.MethodGet, rolesRel + "/add", 405},
		{http.MethodGet, rolesRel + "/update", 405},
		{http.MethodGet, rolesRel + "/remove", 405},
		{http.MethodGet, rolesRel + "/getPrivilege", 405},
		{http.MethodGet, rolesRel + "/assignPrivilege", 405},
		{http.MethodGet, rolesRel + "/getRolesByPrivilege", 405},
		{http.MethodGet, rolesRel + "/getUsersWithinRole", 405},
		{http.MethodGet, rolesRel + "/addUsersToRole", 405},
		{http.MethodGet, rolesRel + "/removeUsersFromRole", 405},
		{http.MethodGet, rolesRel + "/getRolesForUser", 405},
		{http.MethodPost, rolesRel + "/add/x", 404},
	}
	e := newEnv(t, simulator.Config{})
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.rel, func(t *testing.T) {
			var r response
			if tt.method == http.MethodGet {
				r = e.get(tt.rel, e.authed())
			} else {
				r = e.post(tt.rel, e.authed())
			}
			msg := "Method not supported."
			if tt.code == 404 {
				msg = "Could not find resource or operation 'x' on the system."
			}
			wantError(t, r.object(t), tt.code, msg)
		})
	}
}
