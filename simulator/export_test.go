package simulator

// JobServices returns how many services the job store holds jobs for.
func JobServices(s *Server) int {
	s.jobs.mu.Lock()
	defer s.jobs.mu.Unlock()
	return len(s.jobs.jobs)
}
