package simulator

import "time"

// siteResources are the child resources listed by the site root, as recorded
// on a 10.5.1 server (docs/upstream.md#conventions,
// docs/upstream.md#recorded-payloads).
var siteResources = []string{
	"machines", "clusters", "system", "services", "security",
	"data", "uploads", "logs", "mode", "usagereports",
}

// serveSiteRoot implements GET /<ctx>/admin/.
func (s *Server) serveSiteRoot(c *call) {
	c.writeJSON(struct {
		Resources      []string `json:"resources"`
		CurrentVersion float64  `json:"currentVersion"`
		FullVersion    string   `json:"fullVersion"`
		AcceptLanguage *string  `json:"acceptLanguage"`
	}{siteResources, s.version, s.fullVersion, nil})
}

// serveRestInfo implements GET /<ctx>/rest/info (services directory, no
// token needed): it advertises the token service URL like a real site.
func (s *Server) serveRestInfo(c *call) {
	scheme := "http"
	if c.r.TLS != nil {
		scheme = "https"
	}
	shortLived := min(defaultTokenMinutes*time.Minute, s.currentTokenLifetime())
	type authInfo struct {
		IsTokenBasedSecurity    bool   `json:"isTokenBasedSecurity"`
		TokenServicesURL        string `json:"tokenServicesUrl"`
		ShortLivedTokenValidity int64  `json:"shortLivedTokenValidity"`
	}
	c.writeJSON(struct {
		CurrentVersion float64  `json:"currentVersion"`
		FullVersion    string   `json:"fullVersion"`
		AuthInfo       authInfo `json:"authInfo"`
	}{s.version, s.fullVersion, authInfo{
		IsTokenBasedSecurity:    true,
		TokenServicesURL:        scheme + "://" + c.r.Host + "/" + s.context + "/tokens/",
		ShortLivedTokenValidity: int64(shortLived / time.Minute),
	}})
}
