package report

import (
	"bytes"
	"cmp"
	"fmt"
	"github.com/microsim/microsim/sim"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Charts over time for the HTML report, drawn with gonum.org/v1/plot and
// rendered to SVG. Every chart has the run's virtual time on its x axis,
// one step per metrics window, and the fault timeline drawn behind the
// data: a shaded band per fault occurrence, labelled with the fault's
// name and target.

// Chart is one rendered chart.
type Chart struct {
	// ID is a stable identifier ("throughput", "share-api").
	ID string
	// Title is the chart's title, also drawn in the SVG.
	Title string
	// SVG is the chart as a standalone SVG document without its XML
	// prolog, ready to be inlined in HTML.
	SVG string
}

// Chart sizes: the plot, and the legend column to its right.
const (
	chartWidth  = 10 * vg.Inch
	chartHeight = 3 * vg.Inch
	legendWidth = 1.7 * vg.Inch
	dataLeft    = 58 // points from the left edge to the data area
)

// chartFont is the font of every text of a chart. The SVG names the
// font; browsers substitute a sans-serif font when it is not installed.
var chartFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// seriesColors is the Tableau 10 palette.
var seriesColors = []color.RGBA{
	{0x4e, 0x79, 0xa7, 0xff}, {0xf2, 0x8e, 0x2b, 0xff}, {0x59, 0xa1, 0x4f, 0xff}, {0xe1, 0x57, 0x59, 0xff},
	{0x76, 0xb7, 0xb2, 0xff}, {0xed, 0xc9, 0x48, 0xff}, {0xb0, 0x7a, 0xa1, 0xff}, {0xff, 0x9d, 0xa7, 0xff},
	{0x9c, 0x75, 0x5f, 0xff}, {0xba, 0xb0, 0xac, 0xff},
}

func seriesColor(i int) color.RGBA {
	c := seriesColors[i%len(seriesColors)]
	if i >= len(seriesColors) { // a second round: darker
		c.R, c.G, c.B = c.R/4*3, c.G/4*3, c.B/4*3
	}
	return c
}

// FaultColor is the colour of a fault kind in charts and tables.
func FaultColor(kind string) color.RGBA {
	switch kind {
	case "crash":
		return color.RGBA{0xd6, 0x27, 0x28, 0xff}
	case "stop":
		return color.RGBA{0xff, 0x7f, 0x0e, 0xff}
	case "slow", "link_latency":
		return color.RGBA{0x94, 0x67, 0xbd, 0xff}
	case "errors":
		return color.RGBA{0xe3, 0x77, 0xc2, 0xff}
	case "partition", "loss":
		return color.RGBA{0x1f, 0x77, 0xb4, 0xff}
	case "registry_outage":
		return color.RGBA{0x8c, 0x56, 0x4b, 0xff}
	}
	return color.RGBA{0x7f, 0x7f, 0x7f, 0xff}
}

// Charts draws the report's charts: throughput, success rate, latency
// percentiles, success rate and p99 per workload (with several
// workloads), p99 per call-graph edge (with edges), traffic share per
// instance (one chart per service), retries and hedges.
func Charts(r *sim.Report) ([]Chart, error) {
	end := r.VirtualSeconds
	if n := float64(len(r.Windows)) * r.WindowSeconds; n > 0 {
		end = max(end, n)
	}
	c := &charter{r: r, end: end, bands: faultBands(r, end)}
	builders := []func() (Chart, error){c.throughput, c.successRate, c.latency}
	if len(r.Workloads) > 1 {
		builders = append(builders, c.workloadSuccess, c.workloadLatency)
	}
	if len(r.Clients) > 1 && len(r.Clients) != len(r.Workloads) {
		builders = append(builders, c.clientLatency)
	}
	if len(r.Edges) > 0 {
		builders = append(builders, c.edgeLatency)
	}
	for _, svc := range services(r) {
		builders = append(builders, func() (Chart, error) { return c.share(svc) })
	}
	builders = append(builders, c.retries)
	var out []Chart
	for _, b := range builders {
		ch, err := b()
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, nil
}

// services lists the services of the instances, in order.
func services(r *sim.Report) []string {
	var out []string
	for _, in := range r.Instances {
		if !slices.Contains(out, in.Service) {
			out = append(out, in.Service)
		}
	}
	return out
}

type charter struct {
	r     *sim.Report
	end   float64
	bands *bandPlotter
}

// series is one line of a chart: a value per window; NaN leaves a gap.
type series struct {
	name  string
	vals  []float64
	color color.RGBA
	dash  bool
}

func (c *charter) perSecond(f func(w sim.WindowReport) uint64) []float64 {
	out := make([]float64, len(c.r.Windows))
	for k, w := range c.r.Windows {
		out[k] = float64(f(w)) / c.r.WindowSeconds
	}
	return out
}

func (c *charter) throughput() (Chart, error) {
	return c.lines("throughput", "Throughput", "calls per second", false, []series{
		{name: "calls/s", vals: c.perSecond(func(w sim.WindowReport) uint64 { return w.Calls }), color: seriesColors[0]},
		{name: "failed/s", vals: c.perSecond(func(w sim.WindowReport) uint64 { return w.Failures }), color: seriesColors[3]},
	})
}

func (c *charter) successRate() (Chart, error) {
	vals := make([]float64, len(c.r.Windows))
	for k, w := range c.r.Windows {
		vals[k] = math.NaN()
		if w.Calls > 0 {
			vals[k] = 100 * float64(w.Successes) / float64(w.Calls)
		}
	}
	// Zoom in on dips that a 0-100% axis would hide: the axis starts a
	// round step below the lowest window.
	bottom, lo := 0.0, 100.0
	for _, v := range vals {
		if !math.IsNaN(v) {
			lo = min(lo, v)
		}
	}
	if lo < 100 && lo > 50 {
		bottom = 100 - niceMax((100-lo)*1.3)
	}
	return c.linesTo("success", "Success rate", "% of calls", false, bottom, 100, []series{{name: "success %", vals: vals, color: seriesColors[2]}})
}

func (c *charter) latency() (Chart, error) {
	p50 := make([]float64, len(c.r.Windows))
	p99 := make([]float64, len(c.r.Windows))
	lo, hi := math.Inf(1), 0.0
	for k, w := range c.r.Windows {
		p50[k], p99[k] = math.NaN(), math.NaN()
		if w.Calls > 0 {
			p50[k], p99[k] = w.P50, w.P99
			lo, hi = min(lo, w.P50, w.P99), max(hi, w.P50, w.P99)
		}
	}
	// A tail far above the median squashes the median's line: use a log
	// scale then.
	logScale := lo > 0 && hi/lo > 30
	label := "ms"
	if logScale {
		label = "ms (log scale)"
	}
	return c.lines("latency", "Call latency (p50, p99)", label, logScale, []series{
		{name: "p50", vals: p50, color: seriesColors[0]},
		{name: "p99", vals: p99, color: seriesColors[1]},
	})
}

func (c *charter) retries() (Chart, error) {
	return c.lines("retries", "Retries and hedges", "per second", false, []series{
		{name: "retries/s", vals: c.perSecond(func(w sim.WindowReport) uint64 { return w.Retries }), color: seriesColors[1]},
		{name: "hedges/s", vals: c.perSecond(func(w sim.WindowReport) uint64 { return w.Hedges }), color: seriesColors[6], dash: true},
	})
}

// share stacks each instance's share of the service's attempts per window.
func (c *charter) share(service string) (Chart, error) {
	p, leg := c.newPlot(fmt.Sprintf("Traffic share per instance: %s", service), "% of attempts")
	p.Y.Min, p.Y.Max = 0, 100*c.headroom()
	var idx []int
	for i, in := range c.r.Instances {
		if in.Service == service {
			idx = append(idx, i)
		}
	}
	n := len(c.r.Windows)
	lower := make([]float64, n)
	totals := make([]float64, n)
	for k, w := range c.r.Windows {
		for _, i := range idx {
			if i < len(w.InstanceAttempts) {
				totals[k] += float64(w.InstanceAttempts[i])
			}
		}
	}
	for j, i := range idx {
		upper := make([]float64, n)
		for k, w := range c.r.Windows {
			upper[k] = lower[k]
			if totals[k] > 0 && i < len(w.InstanceAttempts) {
				upper[k] += 100 * float64(w.InstanceAttempts[i]) / totals[k]
			}
		}
		var pts plotter.XYs
		for k := range n {
			x0, x1 := c.r.Windows[k].StartSeconds, c.r.Windows[k].StartSeconds+c.r.WindowSeconds
			pts = append(pts, plotter.XY{X: x0, Y: upper[k]}, plotter.XY{X: x1, Y: upper[k]})
		}
		for k := n - 1; k >= 0; k-- {
			x0, x1 := c.r.Windows[k].StartSeconds, c.r.Windows[k].StartSeconds+c.r.WindowSeconds
			pts = append(pts, plotter.XY{X: x1, Y: lower[k]}, plotter.XY{X: x0, Y: lower[k]})
		}
		poly, err := plotter.NewPolygon(pts)
		if err != nil {
			return Chart{}, err
		}
		poly.Color = withAlpha(seriesColor(j), 0xd8)
		poly.LineStyle.Width = 0
		p.Add(poly)
		c.addLegend(leg, c.r.Instances[i].Name, poly, j, len(idx))
		lower = upper
	}
	return c.render("share-"+service, p, leg)
}

// maxLegendEntries bounds a legend; the rest are summarised in one line.
const maxLegendEntries = 14

func (c *charter) addLegend(leg *plot.Legend, name string, t plot.Thumbnailer, i, total int) {
	switch {
	case i < maxLegendEntries-1 || total <= maxLegendEntries:
		leg.Add(name, t)
	case i == maxLegendEntries-1:
		leg.Add(fmt.Sprintf("+ %d more", total-i))
	}
}

// lines draws series as step lines, one step per window.
func (c *charter) lines(id, title, ylabel string, logScale bool, ss []series) (Chart, error) {
	return c.linesTo(id, title, ylabel, logScale, 0, 0, ss)
}

// linesTo is lines with a fixed range of the y axis (top 0: from the data).
func (c *charter) linesTo(id, title, ylabel string, logScale bool, bottom, top float64, ss []series) (Chart, error) {
	p, leg := c.newPlot(title, ylabel)
	if logScale {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	} else {
		p.Y.Min = bottom
	}
	ymax := 0.0
	for i, s := range ss {
		var first *plotter.Line
		for _, seg := range c.segments(s.vals) {
			l, err := plotter.NewLine(seg)
			if err != nil {
				return Chart{}, err
			}
			l.StepStyle = plotter.PostStep
			l.Color = s.color
			l.Width = vg.Points(1.6)
			if s.dash {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			}
			p.Add(l)
			if first == nil {
				first = l
			}
			for _, pt := range seg {
				ymax = max(ymax, pt.Y)
			}
		}
		if first == nil { // no data: a legend entry all the same
			first = &plotter.Line{LineStyle: draw.LineStyle{Color: s.color, Width: vg.Points(1.6)}}
		}
		c.addLegend(leg, s.name, first, i, len(ss))
	}
	if logScale {
		lo, hi := math.Inf(1), 0.0
		for _, s := range ss {
			for _, v := range s.vals {
				if v > 0 {
					lo, hi = min(lo, v), max(hi, v)
				}
			}
		}
		p.Y.Min = lo / 1.5
		p.Y.Max = lo / 1.5 * math.Pow(hi*1.5/(lo/1.5), c.headroom())
	} else {
		if top == 0 {
			top = niceMax(ymax)
		}
		p.Y.Max = bottom + (top-bottom)*c.headroom()
	}
	return c.render(id, p, leg)
}

// segments splits a per-window series at its gaps (NaN) into step-line
// points; each segment ends with the end of its last window.
func (c *charter) segments(vals []float64) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	flush := func(k int) {
		if len(cur) > 0 {
			end := c.r.Windows[k-1].StartSeconds + c.r.WindowSeconds
			cur = append(cur, plotter.XY{X: end, Y: cur[len(cur)-1].Y})
			out = append(out, cur)
			cur = nil
		}
	}
	for k, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			flush(k)
			continue
		}
		cur = append(cur, plotter.XY{X: c.r.Windows[k].StartSeconds, Y: v})
	}
	flush(len(vals))
	return out
}

// headroom is the factor by which a chart's y range is stretched so that
// the fault labels at the top of the plot area stay clear of the data.
func (c *charter) headroom() float64 {
	if c.bands.rows == 0 {
		return 1
	}
	const plotHeight = 150 // points: the plot area of a chart, roughly
	label := float64(c.bands.rows*10 + 4)
	return plotHeight / (plotHeight - label)
}

// linearTicks marks about six round values between lo and hi, with
// labels no longer than they need to be, and four minor ticks between.
func linearTicks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	step := niceStep((hi - lo) / 6)
	decimals := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	if r := step / math.Pow(10, math.Floor(math.Log10(step)+1e-9)); math.Abs(r-2.5) < 1e-9 {
		decimals++
	}
	minor := step / 5
	var ticks []plot.Tick
	for k := math.Ceil(lo/minor - 1e-9); k*minor <= hi+minor*1e-6; k++ {
		v := k * minor
		if v == 0 {
			v = 0 // not -0
		}
		t := plot.Tick{Value: v}
		if m := math.Mod(math.Abs(v)/step+1e-9, 1); m < 1e-6 {
			t.Label = strconv.FormatFloat(v, 'f', decimals, 64)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// niceStep is the smallest 1, 2, 2.5 or 5 times a power of ten >= v.
func niceStep(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// niceMax rounds a chart's top up to 1, 2 or 5 times a power of ten,
// with some headroom.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	v *= 1.08
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// newPlot returns a plot with the report's time axis, the fault bands
// behind the data, and an empty legend for the column to its right.
func (c *charter) newPlot(title, ylabel string) (*plot.Plot, *plot.Legend) {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(chartFont, 13)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = "virtual time (s)"
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(chartFont, 10)
		a.Tick.Label.Font = font.From(chartFont, 9)
	}
	p.X.Min, p.X.Max = 0, c.end
	p.X.Tick.Marker = plot.TickerFunc(linearTicks)
	p.Y.Tick.Marker = plot.TickerFunc(linearTicks)
	p.Add(plotter.NewGrid())
	p.Add(c.bands)
	leg := plot.NewLegend()
	leg.TextStyle.Font = font.From(chartFont, 10)
	leg.Left, leg.Top = true, true
	leg.Padding = vg.Points(2)
	return p, &leg
}

// render draws the plot on the left and the legend on the right of one
// SVG canvas.
func (c *charter) render(id string, p *plot.Plot, leg *plot.Legend) (Chart, error) {
	canvas := vgsvg.New(chartWidth, chartHeight)
	dc := draw.New(canvas)
	left := draw.Crop(dc, 0, -legendWidth, 0, 0)
	// Every chart's data area starts at the same x, whatever the width
	// of its tick labels, so that the charts of a page line up.
	if off := dataLeft - (p.DataCanvas(left).Min.X - left.Min.X); off > 0 {
		left = draw.Crop(left, off, 0, 0, 0)
	}
	right := draw.Crop(dc, chartWidth-legendWidth+vg.Points(8), 0, 0, -vg.Points(26))
	p.Draw(left)
	leg.Draw(right)
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return Chart{}, fmt.Errorf("sim: chart %s: %w", id, err)
	}
	svg := buf.String()
	if i := strings.Index(svg, "<svg"); i >= 0 {
		svg = svg[i:] // drop the XML prolog and comment: the SVG is inlined
	}
	return Chart{ID: id, Title: p.Title.Text, SVG: svg}, nil
}

// band is a shaded time range of the fault timeline.
type band struct {
	start, end float64
	label      string
	kind       string
	row        int
}

// bandPlotter draws the fault bands behind a chart's data, each with its
// label at the top of the plot area. It is a gonum plot.Plotter.
type bandPlotter struct {
	bands []band
	rows  int
}

// faultBands groups the report's fault events into bands: events of one
// fault over the same time range (a zone's instances crashed together)
// make one band; labels are spread over rows so that they do not overlap.
func faultBands(r *sim.Report, end float64) *bandPlotter {
	type key struct {
		fault      string
		start, end float64
	}
	var order []key
	targets := map[key][]string{}
	kinds := map[key]string{}
	for _, f := range r.Faults {
		e := f.EndSeconds
		if e < 0 {
			e = end
		}
		k := key{f.Fault, f.StartSeconds, e}
		if _, ok := kinds[k]; !ok {
			order = append(order, k)
			kinds[k] = f.Kind
		}
		if f.Target != "" {
			targets[k] = append(targets[k], f.Target)
		}
	}
	bp := &bandPlotter{}
	sty := bandTextStyle(color.Black)
	var rowEnds []vg.Length // x extent of the last label per row, in points at the scale of the full width
	scale := (chartWidth - legendWidth) / vg.Length(max(end, 1e-9))
	for _, k := range order {
		label := k.fault
		switch ts := targets[k]; {
		case len(ts) == 1 && ts[0] != k.fault:
			label += ": " + ts[0]
		case len(ts) > 1 && len(ts) <= 3:
			label += ": " + strings.Join(ts, ", ")
		case len(ts) > 3:
			label += fmt.Sprintf(": %d targets", len(ts))
		}
		b := band{start: k.start, end: k.end, label: label, kind: kinds[k]}
		x0 := vg.Length(k.start) * scale
		w := sty.Rectangle(label).Max.X + vg.Points(6)
		row := -1
		for i, e := range rowEnds {
			if x0 >= e {
				row = i
				break
			}
		}
		if row < 0 {
			row = len(rowEnds)
			rowEnds = append(rowEnds, 0)
		}
		rowEnds[row] = x0 + w
		b.row = row
		bp.bands = append(bp.bands, b)
	}
	bp.rows = len(rowEnds)
	slices.SortStableFunc(bp.bands, func(a, b band) int { return cmp.Compare(a.start, b.start) })
	return bp
}

func bandTextStyle(c color.Color) text.Style {
	return text.Style{Color: c, Font: font.From(chartFont, 8), Handler: plot.DefaultTextHandler,
		XAlign: draw.XLeft, YAlign: draw.YTop}
}

// Plot implements plot.Plotter.
func (bp *bandPlotter) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for _, b := range bp.bands {
		x0 := max(trX(b.start), c.Min.X)
		x1 := min(trX(b.end), c.Max.X)
		if x1 <= x0 {
			x1 = x0 + vg.Points(1.5) // an instant: a thin line
		}
		fill := withAlpha(FaultColor(b.kind), 0x38)
		c.FillPolygon(fill, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
		edge := FaultColor(b.kind)
		c.StrokeLine2(draw.LineStyle{Color: edge, Width: vg.Points(0.8)}, x0, c.Min.Y, x0, c.Max.Y)
		sty := bandTextStyle(darker(edge))
		y := c.Max.Y - vg.Points(2) - vg.Length(b.row)*vg.Points(10)
		c.FillText(sty, vg.Point{X: x0 + vg.Points(2), Y: y}, b.label)
	}
}

// withAlpha makes c translucent (color.RGBA is premultiplied; NRGBA is not).
func withAlpha(c color.RGBA, a uint8) color.NRGBA { return color.NRGBA{R: c.R, G: c.G, B: c.B, A: a} }

func darker(c color.RGBA) color.RGBA {
	return color.RGBA{c.R / 3 * 2, c.G / 3 * 2, c.B / 3 * 2, 0xff}
}
