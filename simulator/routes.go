package simulator

// This file holds the routing tables. Each resource family is implemented in
// its own file; wiring a new family (jobs, item info, usage reports, roles,
// ...) means adding its handlers in a new file and an entry here.
//
// Segment names are matched case-sensitively, as documented; folder and
// service names are matched case-insensitively by the services family.

// adminRoute serves one first-level child of /<ctx>/admin/.
type adminRoute struct {
	// public routes are served without a token.
	public bool
	// handle serves the request; c.segs[0] is the route's own segment.
	handle func(s *Server, c *call)
}

// adminRoutes maps the first path segment below /<ctx>/admin/ to its family.
// The site root itself (no segment) is served by serveSiteRoot.
var adminRoutes = map[string]adminRoute{
	"generateToken": {public: true, handle: (*Server).serveAdminGenerateToken},
	"publicKey":     {public: true, handle: (*Server).servePublicKey},
	"services":      {handle: (*Server).serveServices},
	"security":      {handle: (*Server).serveSecurity},
	"usagereports":  {handle: (*Server).serveUsageReports},
}

// servicesRoute serves a child of /admin/services/ that is not a folder or a
// service (createFolder, createService, exists, types).
type servicesRoute struct {
	// operation routes are POST only.
	operation bool
	// nested routes accept further path segments (passed as rest).
	nested bool
	handle func(s *Server, c *call, rest []string)
}

// servicesRoutes maps a segment directly below /admin/services/.
var servicesRoutes = map[string]servicesRoute{
	"createFolder":  {operation: true, handle: (*Server).createFolder},
	"createService": {operation: true, handle: (*Server).createRootService},
	"exists":        {handle: (*Server).serviceExists},
	"types":         {nested: true, handle: (*Server).serveTypes},
}

// folderRoute serves an operation of /admin/services/<folder>/.
type folderRoute struct {
	// operation routes are POST only.
	operation bool
	// handle serves the request for the folder whose lower-case key is given.
	handle func(s *Server, c *call, folderKey, folderSeg string)
}

// folderRoutes maps a segment below /admin/services/<folder>/ that is not a
// service.
var folderRoutes = map[string]folderRoute{
	"editFolder":    {operation: true, handle: (*Server).editFolder},
	"deleteFolder":  {operation: true, handle: (*Server).deleteFolder},
	"createService": {operation: true, handle: (*Server).createFolderService},
}

// serviceRoute serves a child of /admin/services/[<folder>/]<name>.<Type>/.
type serviceRoute struct {
	// operation routes are POST only.
	operation bool
	// nested routes accept further path segments (passed as rest).
	nested bool
	handle func(s *Server, c *call, ref serviceRef, rest []string)
}

// serviceRoutes maps the segment following a service. Service-level families
// such as jobs, iteminfo or permissions plug in here.
var serviceRoutes = map[string]serviceRoute{
	"status": {handle: (*Server).serviceStatus},
	"start":  {operation: true, handle: (*Server).startService},
	"stop":   {operation: true, handle: (*Server).stopService},
	"delete": {operation: true, handle: (*Server).deleteService},
	"edit":   {operation: true, handle: (*Server).editService},
	"jobs":   {nested: true, handle: (*Server).serveJobs},

	// Item info; the docs spell the segment both ways
	// (docs/upstream.md#item-info).
	"iteminfo": {nested: true, handle: (*Server).serveItemInfo},
	"itemInfo": {nested: true, handle: (*Server).serveItemInfo},
}

// jobsRoute serves a child of .../<service>/jobs/ that is not a job.
type jobsRoute struct {
	// operation routes are POST only.
	operation bool
	handle    func(s *Server, c *call, ref serviceRef)
}

// jobsRoutes maps a segment below .../<service>/jobs/ that is not a job id.
var jobsRoutes = map[string]jobsRoute{
	"query":      {handle: (*Server).queryJobs},
	"purgeQueue": {operation: true, handle: (*Server).purgeJobQueue},
}

// jobRoute serves an operation of .../<service>/jobs/<jobID>/.
type jobRoute struct {
	// operation routes are POST only.
	operation bool
	handle    func(s *Server, c *call, ref serviceRef, jobID string)
}

// jobRoutes maps the segment following a job id.
var jobRoutes = map[string]jobRoute{
	"cancel": {operation: true, handle: (*Server).cancelJob},
	"delete": {operation: true, handle: (*Server).deleteJob},
}

// reservedFolderNames cannot be used as folder names because they collide
// with routes below /admin/services/ (compared in lower case). It lists the
// servicesRoutes keys and the documented children not simulated yet; it is
// spelled out rather than derived from servicesRoutes to avoid an
// initialization cycle.
var reservedFolderNames = map[string]bool{
	"createfolder": true, "createservice": true, "exists": true, "types": true,
	"cancreateservice": true, "deleteservices": true, "exportservices": true,
	"federate": true, "importservices": true, "renameservice": true,
	"startservices": true, "stopservices": true, "unfederate": true,
	"report": true, "permissions": true, "properties": true, "webhooks": true,
}

// routeAllowed applies the generic checks of a route: extra path segments
// make it unknown (404) and operations are POST only (405).
func routeAllowed(c *call, operation, nested bool, rest []string) bool {
	if !nested && len(rest) > 0 {
		c.notFound(rest[0])
		return false
	}
	if operation {
		return c.requirePOST()
	}
	return true
}

// rolesRoute serves an operation of /admin/security/roles/ (all POST only).
type rolesRoute struct {
	// write routes change the role store and are refused when it is
	// read-only.
	write  bool
	handle func(s *Server, c *call)
}

// rolesRoutes maps a segment below /admin/security/roles/
// (docs/upstream.md#roles).
var rolesRoutes = map[string]rolesRoute{
	"getRoles":            {handle: (*Server).getRoles},
	"search":              {handle: (*Server).searchRoles},
	"add":                 {write: true, handle: (*Server).addRole},
	"update":              {write: true, handle: (*Server).updateRole},
	"remove":              {write: true, handle: (*Server).removeRole},
	"getPrivilege":        {handle: (*Server).getRolePrivilege},
	"assignPrivilege":     {handle: (*Server).assignPrivilege},
	"getRolesByPrivilege": {handle: (*Server).getRolesByPrivilege},
	"getUsersWithinRole":  {handle: (*Server).getUsersWithinRole},
	"addUsersToRole":      {write: true, handle: (*Server).addUsersToRole},
	"removeUsersFromRole": {write: true, handle: (*Server).removeUsersFromRole},
	"getRolesForUser":     {handle: (*Server).getRolesForUser},
}
