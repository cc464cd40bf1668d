package server

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/history"
	"github.com/overvakt/overvakt/pkg/page"
	"github.com/overvakt/overvakt/pkg/store"
)

// The history API: GET /api/v1/history/{service}/{node}?range=24h|7d|30d|90d.
type historyReport struct {
	Service string `json:"service"`
	Node    string `json:"node"`
	Range   string `json:"range"`
	From    string `json:"from"`
	To      string `json:"to"`
	// UptimePercent is up (healthy or sick) time against time with data;
	// null without data.
	UptimePercent *float64        `json:"uptime_percent"`
	Buckets       []historyBucket `json:"buckets"` // hours for 24h and 7d, days for 30d and 90d
}

type historyBucket struct {
	Start         string   `json:"start"`
	Healthy       float64  `json:"healthy_seconds"`
	Sick          float64  `json:"sick_seconds"`
	Dead          float64  `json:"dead_seconds"`
	NoData        float64  `json:"no_data_seconds"`
	Maintenance   float64  `json:"maintenance_seconds"` // inside maintenance windows: neither up nor down
	MeanLatencyMS *float64 `json:"mean_latency_ms"`     // healthy and sick results; null without (and for days)
}

// Ranges the history API and the uptime badge take, for error messages.
var rangeNames = func() string {
	names := make([]string, 0, len(history.Ranges))
	for k := range history.Ranges {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return history.Ranges[names[i]] < history.Ranges[names[j]] })
	return strings.Join(names, ", ")
}()

// viewDocs holds the history API's answers and the uptime badges built
// from one history view: at most one per node and range and kind, all
// dropped when a new view comes (once a minute).
type viewDocs struct {
	mu      sync.Mutex
	version uint64
	docs    map[string]*doc
}

func (v *viewDocs) get(version uint64, key string, build func() (*doc, error)) (*doc, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if version == 0 { // no view yet: nothing to keep
		return build()
	}
	if v.version != version {
		v.version, v.docs = version, map[string]*doc{}
	}
	if d, ok := v.docs[key]; ok {
		return d, nil
	}
	d, err := build()
	if err == nil {
		v.docs[key] = d
	}
	return d, err
}

// historyTarget reads the node and range of a history route: 404 for an
// unknown node (or a server without history), 400 for an unknown range.
func (s *Server) historyTarget(c echo.Context, defaultRange string) (store.Component, string, error) {
	svc, node := c.Param("service"), c.Param("node")
	if s.hist == nil {
		return store.Component{}, "", echo.NewHTTPError(http.StatusNotFound, "this server keeps no history")
	}
	if _, _, ok := s.reg.Snapshot().FindNode(svc, node); !ok {
		return store.Component{}, "", echo.NewHTTPError(http.StatusNotFound, "no node "+strconv.Quote(node)+" in service "+strconv.Quote(svc))
	}
	span := c.QueryParam("range")
	if span == "" {
		span = defaultRange
	}
	if _, ok := history.Ranges[span]; !ok {
		return store.Component{}, "", echo.NewHTTPError(http.StatusBadRequest, "unknown range "+strconv.Quote(span)+"; want "+rangeNames)
	}
	return store.Component{Service: svc, Node: node}, span, nil
}

// handleHistoryAPI answers GET /api/v1/history/{service}/{node}.
func (s *Server) handleHistoryAPI(c echo.Context) error {
	comp, span, err := s.historyTarget(c, "24h")
	if err != nil {
		return err
	}
	_, version := s.history()
	d, err := s.viewDocs.get(version, "api/"+comp.Service+"/"+comp.Node+"/"+span, func() (*doc, error) {
		rg, err := s.hist.NodeRange(c.Request().Context(), comp, span, s.now())
		if err != nil {
			if history.IsUnknown(err) {
				return nil, echo.NewHTTPError(http.StatusNotFound, "no history of node "+strconv.Quote(comp.Node)+" yet; try again in a minute")
			}
			return nil, err
		}
		body, err := json.Marshal(historyReportOf(rg, span))
		if err != nil {
			return nil, err
		}
		d := newDoc(append(body, '\n'), hdrJSON, hdrNoCache)
		d.compress(&s.gzip)
		return d, nil
	})
	if err != nil {
		return err
	}
	c.Response().Header()["Access-Control-Allow-Origin"] = hdrAnyOrigin
	serveDoc(c.Response(), c.Request(), d, hdrNoCache)
	return nil
}

func historyReportOf(rg *history.Range, span string) historyReport {
	out := historyReport{Service: rg.Of.Service, Node: rg.Of.Node, Range: span, From: rfc3339(rg.From), To: rfc3339(rg.To),
		UptimePercent: percentOf(rg.Uptime), Buckets: make([]historyBucket, len(rg.Buckets))}
	for i, b := range rg.Buckets {
		hb := historyBucket{Start: rfc3339(b.Start), Healthy: seconds(b.Healthy), Sick: seconds(b.Sick),
			Dead: seconds(b.Dead), NoData: seconds(b.NoData), Maintenance: seconds(b.Maintenance)}
		if b.Latency.Count > 0 {
			ms := math.Round(float64(b.Latency.Mean)/float64(time.Microsecond)) / 1000
			hb.MeanLatencyMS = &ms
		}
		out.Buckets[i] = hb
	}
	return out
}

// percentOf is an uptime in percent to 4 decimals, nil without data
// (JSON has no NaN).
func percentOf(r history.Ratio) *float64 {
	p := r.Percent()
	if math.IsNaN(p) {
		return nil
	}
	p = math.Floor(p*1e4) / 1e4 // never up to 100 when some was down
	return &p
}

func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// handleUptimeBadge serves /badge/uptime/{service}/{node}?range=30d: a
// shields-style SVG "uptime | 99.95%", green from 99.9%, amber from 99%,
// red below, grey without data.
func (s *Server) handleUptimeBadge(c echo.Context) error {
	comp, span, err := s.historyTarget(c, "30d")
	if err != nil {
		return err
	}
	view, version := s.history()
	d, err := s.viewDocs.get(version, "badge/"+comp.Service+"/"+comp.Node+"/"+span, func() (*doc, error) {
		var r history.Ratio
		if view != nil {
			if nh := view.Nodes[comp]; nh != nil {
				r = map[string]history.Ratio{"24h": nh.Uptime.Day, "7d": nh.Uptime.Week, "30d": nh.Uptime.Month, "90d": nh.Uptime.Quarter}[span]
			}
		}
		d := newDoc(uptimeBadge(r), []string{"image/svg+xml"}, hdrNoCache)
		d.compress(&s.gzip)
		return d, nil
	})
	if err != nil {
		return err
	}
	c.Response().Header()["Access-Control-Allow-Origin"] = hdrAnyOrigin
	serveDoc(c.Response(), c.Request(), d, hdrNoCache)
	return nil
}

// uptimeBadge draws the badge for an uptime ratio.
func uptimeBadge(r history.Ratio) []byte {
	value, color := "no data", "#59636e"
	if p := r.Percent(); !math.IsNaN(p) {
		value = page.Uptime(r)
		switch {
		case p >= 99.9:
			color = "#1a7f37"
		case p >= 99:
			color = "#9a6700"
		default:
			color = "#cf222e"
		}
	}
	const label, labelW = "uptime", 50
	valueW := textWidth(value) + 12
	w := labelW + valueW
	var b bytes.Buffer
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="` + strconv.Itoa(w) + `" height="20" role="img" aria-label="` + label + `: ` + value + `">`)
	b.WriteString(`<title>` + label + `: ` + value + `</title>`)
	b.WriteString(`<clipPath id="r"><rect width="` + strconv.Itoa(w) + `" height="20" rx="3"/></clipPath>`)
	b.WriteString(`<g clip-path="url(#r)"><rect width="` + strconv.Itoa(labelW) + `" height="20" fill="#555"/>`)
	b.WriteString(`<rect x="` + strconv.Itoa(labelW) + `" width="` + strconv.Itoa(valueW) + `" height="20" fill="` + color + `"/></g>`)
	b.WriteString(`<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">`)
	b.WriteString(`<text x="` + strconv.Itoa(labelW/2) + `" y="14">` + label + `</text>`)
	b.WriteString(`<text x="` + strconv.Itoa(labelW+valueW/2) + `" y="14">` + value + `</text></g></svg>`)
	return b.Bytes()
}

// textWidth guesses the width of s in 11 px Verdana, as badges do.
func textWidth(s string) int {
	w := 0.0
	for _, r := range s {
		switch {
		case r == '.' || r == ' ':
			w += 3.5
		case r == '%':
			w += 11.5
		default:
			w += 7
		}
	}
	return int(math.Ceil(w))
}
