package report

import (
	"fmt"
	"github.com/microsim/microsim/sim"
	"html/template"
	"image/color"
	"io"
	"maps"
	"slices"
	"strings"
)

// The HTML report: one self-contained file (inline CSS and inline SVG
// charts, no script, nothing fetched when it is opened) with, per
// scenario, the verdict and summary figures, the assertion table, the
// charts over time with the fault timeline shaded, the fault timeline and
// the traffic per instance.

// WriteHTML writes the reports as one HTML page.
func WriteHTML(w io.Writer, reports ...*sim.Report) error {
	page := htmlPage{Title: "simctl report"}
	if len(reports) == 1 {
		page.Title = "simctl: " + reports[0].Scenario
	}
	for i, r := range reports {
		charts, err := Charts(r)
		if err != nil {
			return err
		}
		sec := htmlSection{ID: fmt.Sprintf("scenario-%d", i+1), R: r, Charts: make([]htmlChart, len(charts))}
		for k, c := range charts {
			// The SVG is generated here by gonum/plot, which escapes every
			// text it draws.
			sec.Charts[k] = htmlChart{ID: c.ID, Title: c.Title, SVG: template.HTML(c.SVG)} // #nosec G203
		}
		page.Sections = append(page.Sections, sec)
	}
	return htmlTemplate.Execute(w, page)
}

type htmlPage struct {
	Title    string
	Sections []htmlSection
}

type htmlSection struct {
	ID     string
	R      *sim.Report
	Charts []htmlChart
}

type htmlChart struct {
	ID, Title string
	SVG       template.HTML
}

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":   sim.Percent,
	"ratio": ratio,
	"ms":    func(v float64) string { return fmt.Sprintf("%.2f ms", v) },
	"secs":  func(v float64) string { return fmt.Sprintf("%.1f s", v) },
	"until": func(v float64) string {
		if v < 0 {
			return "end of run"
		}
		return fmt.Sprintf("%.1f s", v)
	},
	"speed": func(r *sim.Report) string {
		if r.WallSeconds <= 0 {
			return ""
		}
		return fmt.Sprintf(" (%.0fx real time)", r.VirtualSeconds/r.WallSeconds)
	},
	"faultColor": func(kind string) template.CSS { return template.CSS(cssColor(FaultColor(kind))) },
	"codes": func(m map[string]uint64) string {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
		return strings.Join(parts, ", ")
	},
	"failedCount": func(r *sim.Report) int { return len(r.FailedAssertions()) },
	"bar":         barStyle,
}).Parse(htmlSource))

func cssColor(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// barStyle places a waterfall row's bar: its start and length as shares
// of the whole call, at least a sliver wide, coloured by outcome.
func barStyle(s sim.SpanReport, total float64) template.CSS {
	if total <= 0 {
		total = 1
	}
	left := min(max(100*s.StartMs/total, 0), 100)
	width := min(max(100*s.DurationMs/total, 0.4), 100-left)
	c := "#0969da"
	switch {
	case s.Code == "canceled":
		c = "#8c959f" // lost to another attempt (a hedge race), or cancelled by a step that had enough
	case s.Code != "" && s.Code != "ok":
		c = "#cf222e"
	case s.Attempt == "retry":
		c = "#bf8700"
	case s.Attempt == "hedge":
		c = "#8250df"
	}
	return template.CSS(fmt.Sprintf("left: %.2f%%; width: %.2f%%; background: %s", left, width, c)) // #nosec G203 -- numbers and a fixed colour
}

const htmlSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
  :root { --pass: #1a7f37; --fail: #cf222e; --muted: #57606a; --line: #d0d7de; }
  * { box-sizing: border-box; }
  body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "Liberation Sans", Arial, sans-serif; color: #1f2328; background: #f6f8fa; }
  header.page { margin-bottom: 16px; color: var(--muted); }
  header.page nav a { margin-right: 12px; color: inherit; }
  section.scenario { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 20px 24px; margin-bottom: 24px; max-width: 1100px; }
  h1 { font-size: 22px; margin: 0 0 4px; display: flex; align-items: center; gap: 10px; }
  h2 { font-size: 16px; margin: 24px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
  .badge { font-size: 13px; font-weight: 700; color: #fff; padding: 2px 10px; border-radius: 12px; letter-spacing: .5px; }
  .badge.pass, .status.pass { background: var(--pass); }
  .badge.fail, .status.fail { background: var(--fail); }
  .desc { margin: 4px 0; }
  .meta { color: var(--muted); margin: 0 0 12px; font-size: 13px; }
  .cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
  .card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 120px; }
  .card .v { font-size: 20px; font-weight: 600; }
  .card .k { color: var(--muted); font-size: 12px; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { background: #f6f8fa; font-weight: 600; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .status { color: #fff; font-weight: 700; font-size: 11px; padding: 1px 7px; border-radius: 10px; }
  tr.fail td { background: #fff5f5; }
  .detail { color: var(--muted); }
  figure.chart { margin: 8px 0 18px; }
  figure.chart svg { width: 100%; height: auto; display: block; }
  .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -2px; margin-right: 6px; }
  .none { color: var(--muted); font-style: italic; }
  .waterfall { margin: 8px 0 18px; }
  .waterfall .row { display: flex; align-items: center; font-size: 12px; border-bottom: 1px solid #eef1f4; }
  .waterfall .label { width: 42%; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; padding: 2px 6px 2px 0; }
  .waterfall .track { position: relative; flex: 1; height: 14px; background: #f6f8fa; }
  .waterfall .bar { position: absolute; top: 2px; height: 10px; border-radius: 2px; }
  .waterfall .dur { width: 80px; text-align: right; font-variant-numeric: tabular-nums; color: var(--muted); }
</style>
</head>
<body>
<header class="page">
  <div>microsim · simctl report · {{len .Sections}} scenario{{if ne (len .Sections) 1}}s{{end}}</div>
  {{- if gt (len .Sections) 1}}
  <nav>{{range .Sections}}<a href="#{{.ID}}">{{.R.Scenario}}</a>{{end}}</nav>
  {{- end}}
</header>
{{range .Sections}}{{$r := .R}}{{$sid := .ID}}
<section class="scenario" id="{{.ID}}" data-scenario="{{$r.Scenario}}" data-passed="{{$r.Passed}}">
  <h1>{{if $r.Passed}}<span class="badge pass">PASS</span>{{else}}<span class="badge fail">FAIL</span>{{end}} {{$r.Scenario}}</h1>
  {{- if $r.Description}}<p class="desc">{{$r.Description}}</p>{{end}}
  <p class="meta">{{if $r.File}}{{$r.File}} · {{end}}seed {{$r.Seed}} · {{secs $r.VirtualSeconds}} virtual in {{printf "%.2f" $r.WallSeconds}} s wall{{speed $r}} · windows of {{secs $r.WindowSeconds}}</p>
  <div class="cards">
    <div class="card"><div class="v">{{$r.Totals.Calls}}</div><div class="k">calls</div></div>
    <div class="card"><div class="v">{{pct (ratio $r.Totals.Successes $r.Totals.Calls)}}</div><div class="k">succeeded ({{$r.Totals.Failures}} failed)</div></div>
    <div class="card"><div class="v">{{ms $r.Latency.P50}}</div><div class="k">p50 latency</div></div>
    <div class="card"><div class="v">{{ms $r.Latency.P99}}</div><div class="k">p99 latency</div></div>
    <div class="card"><div class="v">{{$r.Totals.Retries}}</div><div class="k">retries</div></div>
    <div class="card"><div class="v">{{$r.Totals.Hedges}}</div><div class="k">hedges</div></div>
    <div class="card"><div class="v">{{$r.Totals.Ejections}}</div><div class="k">ejections</div></div>
  </div>
  {{- if $r.FailuresByCode}}<p class="meta">failures by code: {{codes $r.FailuresByCode}}</p>{{end}}

  <h2>Assertions{{if $r.Assertions}} ({{failedCount $r}} of {{len $r.Assertions}} failed){{end}}</h2>
  {{- if $r.Assertions}}
  <table class="assertions">
    <thead><tr><th>status</th><th>assertion</th><th>kind</th><th class="num">observed</th><th class="num">expected</th><th>detail</th></tr></thead>
    <tbody>
    {{- range $r.Assertions}}
      <tr class="{{if .Passed}}pass{{else}}fail{{end}}"><td><span class="status {{if .Passed}}pass{{else}}fail{{end}}">{{if .Passed}}PASS{{else}}FAIL{{end}}</span></td><td>{{.Name}}</td><td>{{.Kind}}</td><td class="num">{{.Observed}}</td><td class="num">{{.Expected}}</td><td class="detail">{{.Detail}}</td></tr>
    {{- end}}
    </tbody>
  </table>
  {{- else}}<p class="none">no assertions</p>{{end}}
  {{- range $r.Traces}}{{$total := .DurationMs}}
  <div class="waterfall" data-trace="{{.TraceID}}">
    <p class="meta"><b>{{.Assertion}}</b>: a representative call at {{secs .StartSeconds}}, {{ms .DurationMs}}{{if .Failed}}, failed{{end}}, trace {{.TraceID}}{{if .Faults}}; faults active: {{range $i, $f := .Faults}}{{if $i}}, {{end}}{{$f}}{{end}}{{end}}</p>
    {{- range .Spans}}
    <div class="row" data-kind="{{.Kind}}"><div class="label" style="padding-left: {{.Depth}}em">{{.Name}} · {{.Kind}}{{if .Attempt}} ({{.Attempt}}){{end}}{{if .Node}} on {{.Node}}{{end}}{{if .Code}} · {{.Code}}{{end}}</div><div class="track"><div class="bar" style="{{bar . $total}}"></div></div><div class="dur">{{ms .DurationMs}}</div></div>
    {{- end}}
  </div>
  {{- end}}

  <h2>Over time</h2>
  {{- range .Charts}}
  <figure class="chart" id="{{$sid}}-{{.ID}}" data-chart="{{.ID}}" aria-label="{{.Title}}">{{.SVG}}</figure>
  {{- end}}

  <h2>Fault timeline</h2>
  {{- if $r.Faults}}
  <table class="faults">
    <thead><tr><th>fault</th><th>kind</th><th>target</th><th class="num">start</th><th class="num">end</th><th class="num">touched</th></tr></thead>
    <tbody>
    {{- range $r.Faults}}
      <tr><td><span class="swatch" style="background: {{faultColor .Kind}}"></span>{{.Fault}}</td><td>{{.Kind}}</td><td>{{.Target}}</td><td class="num">{{secs .StartSeconds}}</td><td class="num">{{until .EndSeconds}}</td><td class="num">{{.Touched}}</td></tr>
    {{- end}}
    </tbody>
  </table>
  {{- else}}<p class="none">no faults</p>{{end}}

  <h2>Traffic per instance</h2>
  <table class="instances">
    <thead><tr><th>instance</th><th>service</th><th>zone</th><th class="num">attempts</th><th class="num">share</th><th class="num">failed</th><th class="num">p50</th><th class="num">p99</th></tr></thead>
    <tbody>
    {{- range $r.Instances}}
      <tr><td>{{.Name}}</td><td>{{.Service}}</td><td>{{.Zone}}</td><td class="num">{{.Attempts}}</td><td class="num">{{pct .Share}}</td><td class="num">{{.Failures}}</td><td class="num">{{ms .P50}}</td><td class="num">{{ms .P99}}</td></tr>
    {{- end}}
    </tbody>
  </table>
</section>
{{end}}
</body>
</html>
`

// ratio is a/b, 0 when b is 0.
func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
