package server

import (
	"context"
	"google.golang.org/protobuf/types/known/emptypb"
	"strconv"
	"strings"
	"sync"
	"time"

	adminv1 "github.com/arcgate/arcgate/gen/go/arcgate/admin/v1"
	"github.com/arcgate/arcgate/statestore"
	"github.com/arcgate/arcgate/upstream"
)

// versionTTL is how long the upstream's currentVersion is trusted before it
// is read again (a server upgrade is rare, and needs a restart upstream).
const versionTTL = 5 * time.Minute

// usageReportsServer implements adminv1.UsageReportsServiceServer.
type usageReportsServer struct {
	adminv1.UnimplementedUsageReportsServiceServer
	usageReports usageReportsAPI
	site         siteAPI // the site root (currentVersion)
	now          func() time.Time
	locks        statestore.Locker

	mu        sync.Mutex
	version   float64   // upstream currentVersion, 0 until read
	versionAt time.Time // when version was read
}

var _ adminv1.UsageReportsServiceServer = (*usageReportsServer)(nil)

func newUsageReportsServer(up *upstream.Client) *usageReportsServer {
	return &usageReportsServer{usageReports: up.UsageReports, site: up, now: time.Now, locks: statestore.NewMemory()}
}

// siteVersion returns the upstream's currentVersion, read from the site
// root at most once per versionTTL.
func (s *usageReportsServer) siteVersion(ctx context.Context) (float64, error) {
	s.mu.Lock()
	v, at := s.version, s.versionAt
	s.mu.Unlock()
	if v != 0 && s.now().Sub(at) < versionTTL {
		return v, nil
	}
	info, err := s.site.SiteInfo(ctx)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.version, s.versionAt = info.CurrentVersion, s.now()
	s.mu.Unlock()
	return info.CurrentVersion, nil
}

// checkCombinable refuses a definition that combines
// ServiceRunningInstancesMax with other metrics when the upstream is older
// than 11.1, before the doomed add or edit is sent. An upstream that does
// not report its version is left to decide itself.
func (s *usageReportsServer) checkCombinable(ctx context.Context, d *upstream.UsageReport, resource string) error {
	if !combinesRunningInstancesMax(d) {
		return nil
	}
	v, err := s.siteVersion(ctx)
	if err != nil {
		return Status(err, resource)
	}
	if v <= 0 || v >= minCombinableVersion {
		return nil
	}
	ver := strconv.FormatFloat(v, 'f', -1, 64)
	return failedPrecondition(ReasonMetricNotCombinable,
		"usage_report.queries: "+runningInstancesMax+" cannot be combined with other metrics before ArcGIS Server "+
			minCombinableVersionID+" (upstream currentVersion is "+ver+"); put it in a report of its own",
		map[string]string{"field": "usage_report.queries", "upstreamVersion": ver, "minimumVersion": minCombinableVersionID})
}

// ListUsageReports implements adminv1.UsageReportsServiceServer.
func (s *usageReportsServer) ListUsageReports(ctx context.Context, req *adminv1.ListUsageReportsRequest) (*adminv1.ListUsageReportsResponse, error) {
	const query = "usageReports"
	if _, err := checkPage(req.GetPageSize(), req.GetPageToken(), query); err != nil {
		return nil, err
	}
	all, err := s.usageReports.List(ctx)
	if err != nil {
		return nil, Status(err, query)
	}
	reports := make([]*adminv1.UsageReport, 0, len(all))
	for i := range all {
		reports = append(reports, usageReportFromUpstream(&all[i]))
	}
	page, next, err := paginate(reports, (*adminv1.UsageReport).GetName, query, req.GetPageToken(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	return &adminv1.ListUsageReportsResponse{UsageReports: page, NextPageToken: next}, nil
}

// getReport reads a report's definition and converts it.
func (s *usageReportsServer) getReport(ctx context.Context, id string) (*adminv1.UsageReport, error) {
	r, err := s.usageReports.Get(ctx, id)
	if err != nil {
		return nil, Status(err, usageReportResourceName(id))
	}
	if r.Name == "" {
		r.Name = id
	}
	return usageReportFromUpstream(r), nil
}

// GetUsageReport implements adminv1.UsageReportsServiceServer.
func (s *usageReportsServer) GetUsageReport(ctx context.Context, req *adminv1.GetUsageReportRequest) (*adminv1.UsageReport, error) {
	id, err := parseUsageReportName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	return s.getReport(ctx, id)
}

// CreateUsageReport implements adminv1.UsageReportsServiceServer.
func (s *usageReportsServer) CreateUsageReport(ctx context.Context, req *adminv1.CreateUsageReportRequest) (_ *adminv1.UsageReport, err error) {
	id := req.GetUsageReportId()
	if id != "" {
		if why := checkReportID(id); why != "" {
			return nil, invalidArgument("usage_report_id", why)
		}
	}
	if req.GetUsageReport() == nil {
		return nil, invalidArgument("usage_report", "is required")
	}
	if err := checkValueDepths(req); err != nil {
		return nil, err
	}
	if id == "" {
		id = newReportID()
	}
	def := &upstream.UsageReport{Name: id}
	touched := map[string]bool{}
	for _, p := range usageReportPaths {
		if err := usageReportFields[p](def, req.GetUsageReport()); err != nil {
			return nil, err
		}
		touched[p] = true
	}
	if err := checkUsageRange(def, touched); err != nil {
		return nil, err
	}
	name := usageReportResourceName(id)
	if err := s.checkCombinable(ctx, def, name); err != nil {
		return nil, err
	}
	ctx, unlock, err := lockResource(ctx, s.locks, usageReportLockKey(id), name)
	if err != nil {
		return nil, err
	}
	defer unlock(&err)
	if err := s.usageReports.Add(ctx, def); err != nil {
		return nil, Status(err, name)
	}
	r, err := s.getReport(ctx, id)
	if err != nil {
		return nil, readBackFailed(err, name)
	}
	return r, nil
}

// usageReportMask returns the mask's paths, each a key of
// usageReportFields (`*`: all of them; empty: INVALID_ARGUMENT, see
// updatePaths). REST masks built from a JSON body name metadata's keys
// (`metadata.title`); any path inside metadata means all of it.
func usageReportMask(paths []string) (map[string]bool, error) {
	out := map[string]bool{}
	paths, err := updatePaths(paths, usageReportPaths, "metadata")
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if strings.HasPrefix(p, "metadata.") {
			p = "metadata"
		}
		if _, ok := usageReportFields[p]; !ok {
			return nil, invalidArgument("update_mask", "unknown or read-only field "+quoteName(p)+
				" (settable: since, from_time, to_time, aggregation_interval, queries, metadata)")
		}
		out[p] = true
	}
	return out, nil
}

// UpdateUsageReport implements adminv1.UsageReportsServiceServer.
func (s *usageReportsServer) UpdateUsageReport(ctx context.Context, req *adminv1.UpdateUsageReportRequest) (_ *adminv1.UsageReport, err error) {
	if req.GetUsageReport() == nil {
		return nil, invalidArgument("usage_report", "is required")
	}
	id, err := parseUsageReportName("usage_report.name", req.GetUsageReport().GetName())
	if err != nil {
		return nil, err
	}
	mask, err := usageReportMask(req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	if err := checkValueDepths(req); err != nil {
		return nil, err
	}
	// Validate what the request sets before reading anything: each field on
	// its own, and the range when the request sets all of it.
	scratch := &upstream.UsageReport{}
	for _, p := range usageReportPaths {
		if mask[p] {
			if err := usageReportFields[p](scratch, req.GetUsageReport()); err != nil {
				return nil, err
			}
		}
	}
	if mask["since"] && (scratch.Since != upstream.UsageSinceCustom || mask["from_time"] && mask["to_time"]) {
		if err := checkUsageRange(scratch, mask); err != nil {
			return nil, err
		}
	}
	if scratch.From != 0 && scratch.To != 0 && scratch.From >= scratch.To {
		return nil, invalidArgument("usage_report.to_time", "must be after from_time")
	}
	name := usageReportResourceName(id)
	ctx, unlock, err := lockResource(ctx, s.locks, usageReportLockKey(id), name)
	if err != nil {
		return nil, err
	}
	defer unlock(&err)
	cur, err := s.usageReports.Get(ctx, id)
	if err != nil {
		return nil, Status(err, name)
	}
	if cur.Name == "" { // as getReport does, so that the etags agree
		cur.Name = id
	}
	if err := checkEtagOf(req.GetUsageReport().GetEtag(), cur, name); err != nil {
		return nil, err
	}
	for _, p := range usageReportPaths {
		if mask[p] {
			_ = usageReportFields[p](cur, req.GetUsageReport()) // validated above
		}
	}
	if err := checkUsageRange(cur, mask); err != nil {
		return nil, err
	}
	if mask["queries"] {
		if err := s.checkCombinable(ctx, cur, name); err != nil {
			return nil, err
		}
	}
	cur.Name = id
	if err := s.usageReports.Edit(ctx, id, cur); err != nil {
		return nil, Status(err, name)
	}
	r, err := s.getReport(ctx, id)
	if err != nil {
		return nil, readBackFailed(err, name)
	}
	return r, nil
}

// DeleteUsageReport implements adminv1.UsageReportsServiceServer.
func (s *usageReportsServer) DeleteUsageReport(ctx context.Context, req *adminv1.DeleteUsageReportRequest) (_ *emptypb.Empty, err error) {
	id, err := parseUsageReportName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	ctx, unlock, err := lockResource(ctx, s.locks, usageReportLockKey(id), req.GetName())
	if err != nil {
		return nil, err
	}
	defer unlock(&err)
	if req.GetEtag() != "" {
		cur, err := s.usageReports.Get(ctx, id)
		if err != nil {
			return nil, Status(err, req.GetName())
		}
		if cur.Name == "" {
			cur.Name = id
		}
		if err := checkEtagOf(req.GetEtag(), cur, req.GetName()); err != nil {
			return nil, err
		}
	}
	if err := s.usageReports.Delete(ctx, id); err != nil {
		return nil, Status(err, req.GetName())
	}
	return &emptypb.Empty{}, nil
}

// QueryUsageReportData implements adminv1.UsageReportsServiceServer.
func (s *usageReportsServer) QueryUsageReportData(ctx context.Context, req *adminv1.QueryUsageReportDataRequest) (*adminv1.QueryUsageReportDataResponse, error) {
	id, err := parseUsageReportName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	for i, m := range req.GetMachines() {
		if why := checkUsageMachine(m); why != "" {
			return nil, invalidArgument("machines["+itoa(i)+"]", why)
		}
	}
	d, err := s.usageReports.Data(ctx, id, upstream.UsageDataFilter{Machines: req.GetMachines()})
	if err != nil {
		return nil, Status(err, req.GetName())
	}
	return usageDataFromUpstream(req.GetName(), d), nil
}

// checkSettingsName accepts the settings singleton's name or "".
func checkSettingsName(field, name string) error {
	if name != "" && name != usageSettingsName {
		return invalidArgument(field, "must be "+usageSettingsName+" (or empty), got "+quoteName(name))
	}
	return nil
}

// GetUsageStatisticsSettings implements adminv1.UsageReportsServiceServer.
func (s *usageReportsServer) GetUsageStatisticsSettings(ctx context.Context, req *adminv1.GetUsageStatisticsSettingsRequest) (*adminv1.UsageStatisticsSettings, error) {
	if err := checkSettingsName("name", req.GetName()); err != nil {
		return nil, err
	}
	st, err := s.usageReports.Settings(ctx)
	if err != nil {
		return nil, Status(err, usageSettingsName)
	}
	return usageSettingsFromUpstream(st), nil
}

// UpdateUsageStatisticsSettings implements adminv1.UsageReportsServiceServer.
func (s *usageReportsServer) UpdateUsageStatisticsSettings(ctx context.Context, req *adminv1.UpdateUsageStatisticsSettingsRequest) (_ *adminv1.UsageStatisticsSettings, err error) {
	in := req.GetUsageStatisticsSettings()
	if in == nil {
		return nil, invalidArgument("usage_statistics_settings", "is required")
	}
	if err := checkSettingsName("usage_statistics_settings.name", in.GetName()); err != nil {
		return nil, err
	}
	paths, err := updatePaths(req.GetUpdateMask().GetPaths(), []string{"enabled", "sampling_interval", "max_history"})
	if err != nil {
		return nil, err
	}
	var (
		setEnabled, setSampling, setHistory bool
		sampling, history                   int
	)
	for _, p := range paths {
		switch p {
		case "enabled":
			setEnabled = true
		case "sampling_interval":
			setSampling = true
			if sampling, err = usageWholeUnits("usage_statistics_settings.sampling_interval", in.GetSamplingInterval(), time.Minute, "minutes", false); err != nil {
				return nil, err
			}
		case "max_history":
			setHistory = true
			if history, err = usageWholeUnits("usage_statistics_settings.max_history", in.GetMaxHistory(), 24*time.Hour, "days", true); err != nil {
				return nil, err
			}
		default:
			return nil, invalidArgument("update_mask", "unknown or read-only field "+quoteName(p)+" (settable: enabled, sampling_interval, max_history)")
		}
	}
	ctx, unlock, err := lockResource(ctx, s.locks, usageSettingsLockKey, usageSettingsName)
	if err != nil {
		return nil, err
	}
	defer unlock(&err)
	cur, err := s.usageReports.Settings(ctx)
	if err != nil {
		return nil, Status(err, usageSettingsName)
	}
	if err := checkEtagOf(in.GetEtag(), cur, usageSettingsName); err != nil {
		return nil, err
	}
	if setEnabled {
		cur.Enabled = in.GetEnabled()
	}
	if setSampling {
		cur.SamplingInterval = sampling
	}
	if setHistory {
		cur.MaxHistory = history
	}
	if err := s.usageReports.EditSettings(ctx, *cur); err != nil {
		return nil, Status(err, usageSettingsName)
	}
	st, err := s.usageReports.Settings(ctx)
	if err != nil {
		return nil, readBackFailed(err, usageSettingsName)
	}
	return usageSettingsFromUpstream(st), nil
}
