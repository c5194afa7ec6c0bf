package simulator

import "encoding/json"

// kubernetesJobBody is the wire shape of a job of Enterprise on
// Kubernetes (admin/jobs/<id>); times are epoch milliseconds.
type kubernetesJobBody struct {
	JobID        string          `json:"jobid"`
	Status       string          `json:"status"`
	StartTime    int64           `json:"starttime"`
	EndTime      int64           `json:"endtime,omitempty"`
	UpdatedTime  int64           `json:"updatedtime"`
	OperationURI string          `json:"operationURI"`
	Username     string          `json:"username"`
	Result       json.RawMessage `json:"result,omitempty"`
}

// serveKubernetesJobs serves /admin/jobs and /admin/jobs/<id> of a site
// of FlavorKubernetes (systemjobs.go); an ArcGIS Server site has no such
// resource.
func (s *Server) serveKubernetesJobs(c *call) {
	rest := c.segs[1:]
	switch {
	case s.flavor != FlavorKubernetes:
		c.notFound(c.segs[0])
		return
	case len(rest) == 0:
		s.systemJobs.mu.Lock()
		ids := []string{}
		for _, id := range s.systemJobs.order {
			if s.systemJobs.byID[id].kubernetes {
				ids = append(ids, id)
			}
		}
		s.systemJobs.mu.Unlock()
		c.writeJSON(struct {
			Jobs []string `json:"jobs"`
		}{ids})
		return
	case len(rest) != 1:
		c.notFound(rest[len(rest)-1])
		return
	}
	j, d := s.lookupJob(rest[0], true)
	if j == nil {
		c.notFound(rest[0])
		return
	}
	s.authMu.RLock()
	user := s.username
	s.authMu.RUnlock()
	now := s.clock()
	elapsed := now.Sub(j.created)
	body := kubernetesJobBody{JobID: j.id, StartTime: j.created.UnixMilli(), UpdatedTime: now.UnixMilli(),
		OperationURI: j.operationURI, Username: user}
	switch {
	case d <= 0 || elapsed >= d:
		end := j.created.Add(max(d, 0))
		body.EndTime, body.UpdatedTime = end.UnixMilli(), end.UnixMilli()
		body.Status, body.Result = "COMPLETED", j.result
		if j.failure != nil {
			body.Status, body.Result = "FAILED", mustJSON(j.failure)
		}
	case elapsed < d/3:
		body.Status = "SUBMITTED"
	default:
		body.Status = "EXECUTING"
	}
	c.writeJSON(body)
}
