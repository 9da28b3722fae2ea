package report_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/internal/fixture"
	"github.com/microsim/microsim/sim/report"
	"github.com/microsim/microsim/sim/scenario"
)

// svgDoc is what the test reads of an SVG: its size and every text and
// path, at any depth.
type svgDoc struct {
	XMLName xml.Name
	Width   string `xml:"width,attr"`
	ViewBox string `xml:"viewBox,attr"`
	texts   []string
	paths   int
}

// parseSVG decodes an SVG document with encoding/xml.
func parseSVG(t *testing.T, data string) svgDoc {
	t.Helper()
	var doc svgDoc
	dec := xml.NewDecoder(strings.NewReader(data))
	depth := 0
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "the SVG is well-formed XML")
		switch tk := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				doc.XMLName = tk.Name
				for _, a := range tk.Attr {
					switch a.Name.Local {
					case "width":
						doc.Width = a.Value
					case "viewBox", "viewbox":
						doc.ViewBox = a.Value
					}
				}
			}
			depth++
			switch tk.Name.Local {
			case "text":
				inText = true
				doc.texts = append(doc.texts, "")
			case "path":
				doc.paths++
			}
		case xml.EndElement:
			depth--
			if tk.Name.Local == "text" {
				inText = false
			}
		case xml.CharData:
			if inText {
				doc.texts[len(doc.texts)-1] += string(tk)
			}
		}
	}
	require.Zero(t, depth)
	return doc
}

// htmlNodes returns every element of the tree with the tag.
func htmlNodes(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	if n.Type == html.ElementNode && n.Data == tag {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, htmlNodes(c, tag)...)
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

// TestHTMLReport renders the crash scenario's report as HTML and reads it
// back: the page parses, has the assertion table and one inline SVG per
// chart, each SVG is well-formed XML with its title, its data and the
// fault band's label, and nothing is fetched from elsewhere.
func TestHTMLReport(t *testing.T) {
	sc := fixture.CrashScenario()
	sc.Assertions = append(sc.Assertions, scenario.Assertion{Name: "impossible", Latency: &scenario.LatencyCheck{Percentile: 50, Max: scenario.D(1)}})
	rep, err := sim.RunWith(sim.TestRunner(t), sc)
	require.NoError(t, err)
	require.False(t, rep.Passed)

	var page bytes.Buffer
	require.NoError(t, report.Write(&page, report.FormatHTML, rep))
	doc, err := html.Parse(bytes.NewReader(page.Bytes()))
	require.NoError(t, err)

	// Self-contained: no script, no stylesheet link, no external source.
	assert.Empty(t, htmlNodes(doc, "script"))
	assert.Empty(t, htmlNodes(doc, "link"))
	assert.Empty(t, htmlNodes(doc, "img"))
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for _, a := range n.Attr {
			if a.Key == "src" || a.Key == "href" {
				assert.False(t, strings.Contains(a.Val, "//"), "%s=%q fetches from elsewhere", a.Key, a.Val)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	require.Len(t, htmlNodes(doc, "style"), 1)

	sections := htmlNodes(doc, "section")
	require.Len(t, sections, 1)
	assert.Equal(t, "builder-crash", attr(sections[0], "data-scenario"))
	assert.Equal(t, "false", attr(sections[0], "data-passed"))
	assert.Contains(t, textOf(htmlNodes(sections[0], "h1")[0]), "FAIL")

	// The assertion table: one row per assertion, observed and expected.
	var table *html.Node
	for _, tb := range htmlNodes(doc, "table") {
		if attr(tb, "class") == "assertions" {
			table = tb
		}
	}
	require.NotNil(t, table)
	rows := htmlNodes(htmlNodes(table, "tbody")[0], "tr")
	require.Len(t, rows, len(rep.Assertions))
	last := htmlNodes(rows[len(rows)-1], "td")
	require.Len(t, last, 6)
	assert.Equal(t, "FAIL", textOf(last[0]))
	assert.Equal(t, "impossible", textOf(last[1]))
	assert.Equal(t, "10.0ms", textOf(last[3]))
	assert.Equal(t, "<= 0.00ms", textOf(last[4]))
	assert.Equal(t, "fail", attr(rows[len(rows)-1], "class"))

	// One figure per chart, each an inline SVG.
	figures := htmlNodes(doc, "figure")
	var ids []string
	for _, f := range figures {
		ids = append(ids, attr(f, "data-chart"))
	}
	assert.Equal(t, []string{"throughput", "success", "latency", "share-api", "retries"}, ids)
	wantTitle := map[string]string{
		"throughput": "Throughput", "success": "Success rate", "latency": "Call latency (p50, p99)",
		"share-api": "Traffic share per instance: api", "retries": "Retries and hedges",
	}
	for _, f := range figures {
		id := attr(f, "data-chart")
		svgs := htmlNodes(f, "svg")
		require.Len(t, svgs, 1, id)
		var raw bytes.Buffer
		require.NoError(t, html.Render(&raw, svgs[0]))
		svg := parseSVG(t, raw.String())
		assert.Equal(t, "svg", svg.XMLName.Local, id)
		assert.Equal(t, "720pt", svg.Width, id)
		assert.Equal(t, "0 0 720 216", svg.ViewBox, id)
		assert.Contains(t, svg.texts, wantTitle[id])
		assert.Contains(t, svg.texts, "virtual time (s)", id)
		// The crash is shaded and labelled with the fault and its target.
		assert.Contains(t, svg.texts, "crash: api-2", id)
		assert.Greater(t, svg.paths, 20, "%s draws data, axes and the fault band", id)
		switch id {
		case "share-api":
			for _, in := range []string{"api-0", "api-1", "api-2", "api-3"} {
				assert.Contains(t, svg.texts, in, "legend")
			}
		case "latency":
			assert.Contains(t, svg.texts, "p50")
			assert.Contains(t, svg.texts, "p99")
		case "retries":
			assert.Contains(t, svg.texts, "retries/s")
			assert.Contains(t, svg.texts, "hedges/s")
		}
	}

	// The fault timeline and instances tables.
	var faults, instances *html.Node
	for _, tb := range htmlNodes(doc, "table") {
		switch attr(tb, "class") {
		case "faults":
			faults = tb
		case "instances":
			instances = tb
		}
	}
	require.NotNil(t, faults)
	require.NotNil(t, instances)
	frows := htmlNodes(htmlNodes(faults, "tbody")[0], "tr")
	require.Len(t, frows, 1)
	cells := htmlNodes(frows[0], "td")
	assert.Equal(t, []string{"crash", "crash", "api-2", "5.0 s", "10.0 s", "1"},
		[]string{textOf(cells[0]), textOf(cells[1]), textOf(cells[2]), textOf(cells[3]), textOf(cells[4]), textOf(cells[5])})
	assert.Len(t, htmlNodes(htmlNodes(instances, "tbody")[0], "tr"), 4)
}

// TestChartsPerWindow: the window figures the charts draw come from the
// report: hedges per window add up to the total, and retries per window
// leave the hedges out.
func TestChartsPerWindow(t *testing.T) {
	sc := fixture.CrashScenario()
	sc.Clients = []scenario.Client{{Name: "client", Hedging: &scenario.HedgingConfig{Delay: scenario.D(9 * time.Millisecond)}}}
	sc.Assertions = nil
	rep, err := sim.RunWith(sim.TestRunner(t), sc)
	require.NoError(t, err)
	require.Positive(t, rep.Totals.Hedges)
	var hedges, retries uint64
	for _, w := range rep.Windows {
		hedges += w.Hedges
		retries += w.Retries
	}
	assert.Equal(t, rep.Totals.Hedges, hedges)
	assert.LessOrEqual(t, retries, rep.Totals.Retries+uint64(len(rep.Windows)))
	charts, err := report.Charts(rep)
	require.NoError(t, err)
	require.Len(t, charts, 5)
	for _, c := range charts {
		assert.True(t, strings.HasPrefix(c.SVG, "<svg"), "%s: no XML prolog, ready to inline", c.ID)
	}
}
