package simulator

import (
	"crypto/rsa"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultContext is the URL context used when Config.Context is empty.
	DefaultContext = "arcgis"
	// DefaultUsername is the administrator name used when Config.Username is empty.
	DefaultUsername = "admin"
	// DefaultPassword is the administrator password used when Config.Password is empty.
	DefaultPassword = "admin-password"
	// DefaultTokenLifetime is the token lifetime used when Config.TokenLifetime is not positive.
	DefaultTokenLifetime = 60 * time.Minute
	// DefaultVersion is the currentVersion reported when Config.Version is not positive.
	DefaultVersion = 11.3
	// MaxBodyBytes is the largest request body the simulator accepts.
	MaxBodyBytes = 10 << 20
)

// Config configures a simulated ArcGIS Server. The zero value is usable: New
// fills every empty field with its documented default.
type Config struct {
	// Context is the URL context; the admin API lives at /<Context>/admin/.
	// Default "arcgis".
	Context string
	// Username is the primary site administrator name. Default "admin".
	Username string
	// Password is the primary site administrator password. Default
	// "admin-password".
	Password string
	// TokenLifetime is both the default and the maximum lifetime of issued
	// tokens; a larger requested expiration is clamped to it. Default 60m.
	TokenLifetime time.Duration
	// RootFolderName is the folderName reported for services of the root
	// folder in listings: "" (the default) or "/". Which one classic servers
	// send is open (docs/upstream.md#services-and-folders), so clients must
	// accept both.
	RootFolderName string
	// Version is the currentVersion reported by the site root (default 11.3);
	// fullVersion is derived from it (11.3 → "11.3", 10.51 → "10.5.1").
	Version float64
	// Clock returns the current time. Default time.Now.
	Clock func() time.Time
	// ExtraServices is the number of extra MapServer services seeded into the
	// folder "Bulk" (Bulk_0001.MapServer, ...). Default 0 (no Bulk folder).
	ExtraServices int
	// RoleStoreReadOnly makes the role store read-only, like an LDAP or
	// Windows store: roles and memberships cannot change (privileges can).
	// SetRoleStoreReadOnly switches it later.
	RoleStoreReadOnly bool
	// LegacyRoleStore makes security/roles answer like a 10.1 server,
	// {"totalRoles":N}, instead of {"isReadOnly":...}.
	LegacyRoleStore bool
	// Logf, when set, receives one line per request and per state change. It
	// never receives tokens or passwords.
	Logf func(format string, args ...any)
	// JobStepDuration is how long, by Clock, a job made by SubmitJob stays
	// in each state (new, submitted, executing) before its outcome. Default
	// 0: such jobs stay new. Seeded jobs never change on their own.
	JobStepDuration time.Duration
	// AsyncExecution makes a service operation (createService, edit,
	// start, stop, delete, deleteFolder, startServices, stopServices) sent
	// with runAsync=true answer at once with a system job id
	// (admin/system/jobs/<id>). Default false: runAsync is ignored, as by
	// a site without asynchronous execution. It does not apply to
	// FlavorKubernetes.
	AsyncExecution bool
	// SystemJobDuration is how long, by Clock, an asynchronous job (of
	// either flavor) runs before it ends. Default 0: done when first read.
	SystemJobDuration time.Duration
	// Flavor is the kind of site simulated: FlavorServer ("server", also
	// the default "" and any other value) or FlavorKubernetes
	// ("kubernetes": the service operations sent with async=true answer
	// at once with a job id read at admin/jobs/<id>, in Enterprise on
	// Kubernetes' shape; runAsync is ignored). Only asynchronous execution
	// differs between the two.
	Flavor string
}

// Server is a simulated ArcGIS Server administrator endpoint. Create it with
// New; it is safe for concurrent use.
type Server struct {
	// Immutable after New.
	context        string
	adminBase      string // "/arcgis/admin"
	adminPrefix    string // "/arcgis/admin/"
	tokensPath     string // "/arcgis/tokens/generateToken"
	restInfoPath   string // "/arcgis/rest/info"
	rootFolderName string
	version        float64
	fullVersion    string
	clock          func() time.Time
	logf           func(format string, args ...any)

	// mu guards the site content (folders and services).
	mu          sync.RWMutex
	root        *folder
	folders     map[string]*folder // key: lower-case folder name (root excluded)
	folderOrder []*folder          // non-root folders in creation order

	// authMu guards credentials, the token store and failure injection.
	authMu        sync.RWMutex
	username      string
	password      string
	tokenLifetime time.Duration
	tokens        map[string]grant
	failGenerate  int

	generateCount atomic.Int64

	faults faultState // injected faults (faults.go), with its own lock

	roles *roleStore // the security role store (roles.go), with its own lock

	jobs jobStore // GP jobs (jobs.go), with its own lock

	asyncExecution bool           // Config.AsyncExecution
	flavor         string         // Config.Flavor: FlavorServer or FlavorKubernetes
	systemJobs     systemJobStore // system jobs (systemjobs.go), with its own lock

	usageReports *usageState   // usage reports and settings (usagereports.go), with its own lock
	itemInfo     itemInfoStore // lock of the services' item info (iteminfo.go)

	keyOnce sync.Once
	key     *rsa.PrivateKey
	keyErr  error

	// logMu guards the request log.
	logMu    sync.Mutex
	reqLog   []Request
	reqStart int // index of the oldest entry once reqLog is full (ring buffer)
	reqCount int
}

// New returns a Server configured by cfg and seeded with the sample site.
func New(cfg Config) *Server {
	ctx := strings.Trim(cfg.Context, "/")
	if ctx == "" {
		ctx = DefaultContext
	}
	if cfg.Username == "" {
		cfg.Username = DefaultUsername
	}
	if cfg.Password == "" {
		cfg.Password = DefaultPassword
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	if cfg.Version <= 0 {
		cfg.Version = DefaultVersion
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	s := &Server{
		context:        ctx,
		adminBase:      "/" + ctx + "/admin",
		adminPrefix:    "/" + ctx + "/admin/",
		tokensPath:     "/" + ctx + "/tokens/generateToken",
		restInfoPath:   "/" + ctx + "/rest/info",
		rootFolderName: cfg.RootFolderName,
		version:        cfg.Version,
		fullVersion:    fullVersion(cfg.Version),
		clock:          cfg.Clock,
		logf:           cfg.Logf,
		folders:        make(map[string]*folder),
		username:       cfg.Username,
		password:       cfg.Password,
		tokenLifetime:  cfg.TokenLifetime,
		tokens:         make(map[string]grant),
		roles:          newRoleStore(cfg.RoleStoreReadOnly, cfg.LegacyRoleStore),
		usageReports:   newUsageState(),
		asyncExecution: cfg.AsyncExecution,
		flavor:         FlavorServer,
	}
	if cfg.Flavor == FlavorKubernetes {
		s.flavor = FlavorKubernetes
	}
	s.systemJobs.duration = cfg.SystemJobDuration
	s.seed(cfg.ExtraServices)
	s.seedJobs(cfg.JobStepDuration)
	return s
}

// AdminPath returns the path of the admin API root, e.g. "/arcgis/admin/".
func (s *Server) AdminPath() string { return s.adminPrefix }

// ServeHTTP implements http.Handler. It serves:
//
//   - GET /<ctx>/admin: 302 to /<ctx>/admin/, keeping the query string;
//   - /<ctx>/admin/...: the admin API (generateToken and publicKey without a
//     token, everything else with one);
//   - POST /<ctx>/tokens/generateToken: the token service (REST envelope);
//   - POST /portal/sharing/rest/generateToken: the portal of a federated
//     site, issuing portal tokens and exchanging them for server tokens
//     (portal.go);
//   - GET /<ctx>/rest/info: the services directory info advertising the
//     token service;
//
// and answers a plain HTTP 404 anywhere else. Unknown paths below the admin
// root get the code 404 admin envelope naming the first path segment that
// could not be resolved (for an unknown leaf, the last segment).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveFault(w, r) {
		return
	}
	p := r.URL.Path
	switch {
	case p == s.adminBase:
		s.record(r, r.URL.Query())
		s.redirectToAdmin(w, r)
	case strings.HasPrefix(p, s.adminPrefix):
		c, ok := s.begin(w, r)
		if !ok {
			return
		}
		defer c.finish()
		c.segs = splitPath(p[len(s.adminPrefix):])
		s.serveAdmin(c)
	case p == s.tokensPath || p == s.tokensPath+"/":
		c, ok := s.begin(w, r)
		if !ok {
			return
		}
		defer c.finish()
		s.serveTokenService(c)
	case isPortalPath(p):
		s.servePortal(w, r)
	case p == s.restInfoPath || p == s.restInfoPath+"/":
		c, ok := s.begin(w, r)
		if !ok {
			return
		}
		defer c.finish()
		s.serveRestInfo(c)
	default:
		// Outside the simulated web application: the servlet container's
		// plain 404, not an ArcGIS envelope.
		s.record(r, r.URL.Query())
		s.logRequest(r, http.StatusNotFound)
		http.NotFound(w, r)
	}
}

// serveAdmin dispatches a request below /<ctx>/admin/.
func (s *Server) serveAdmin(c *call) {
	var (
		r     route[adminHandler]
		found bool
	)
	if len(c.segs) > 0 {
		r, found = adminRoutes[c.segs[0]]
	}
	if !(found && r.public) && !s.authorize(c) {
		return
	}
	if !methodAllowed(c.r.Method) {
		c.fail(405, msgMethodNotSupported)
		return
	}
	switch {
	case len(c.segs) == 0:
		s.serveSiteRoot(c)
	case !found:
		c.notFound(c.segs[0])
	case r.allowed(c, c.segs[1:]):
		r.handle(s, c)
	}
}

// redirectToAdmin answers GET /<ctx>/admin (no trailing slash) with a 302 to
// /<ctx>/admin/, keeping the query string, as recorded on a 10.5.1 server.
func (s *Server) redirectToAdmin(w http.ResponseWriter, r *http.Request) {
	loc := s.adminPrefix
	if r.Host != "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		loc = scheme + "://" + r.Host + loc
	}
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusFound)
	s.logRequest(r, http.StatusFound)
}

// methodAllowed reports whether m is a method the admin API answers at all.
func methodAllowed(m string) bool {
	return m == http.MethodGet || m == http.MethodPost || m == http.MethodHead
}

// splitPath splits a path below the admin root into its non-empty segments,
// so that a trailing slash or doubled slashes are tolerated.
func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	parts := strings.Split(p, "/")
	out := parts[:0]
	for _, seg := range parts {
		if seg != "" {
			out = append(out, seg)
		}
	}
	return out
}

// now returns the simulator's current time.
func (s *Server) now() time.Time { return s.clock() }

// fullVersion derives the fullVersion string from a currentVersion number:
// 11.3 → "11.3", 11 → "11.0", and the 10.x two-digit minor encoding
// 10.51 → "10.5.1".
func fullVersion(v float64) string {
	str := strconv.FormatFloat(v, 'f', -1, 64)
	major, minor, ok := strings.Cut(str, ".")
	if !ok {
		return major + ".0"
	}
	if major == "10" && len(minor) == 2 {
		return major + "." + minor[:1] + "." + minor[1:]
	}
	return str
}

// logEvent reports a state change through Config.Logf, if set.
func (s *Server) logEvent(format string, args ...any) {
	if s.logf != nil {
		s.logf(format, args...)
	}
}
