package report_test

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/internal/fixture"
	"github.com/microsim/microsim/sim/report"
	"github.com/microsim/microsim/sim/scenario"
)

// The JUnit schema, as CI systems read it.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Skipped    int    `xml:"skipped,attr"`
		File       string `xml:"file,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"error"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
		SystemOut string `xml:"system-out"`
	} `xml:"testsuite"`
}

func parseJUnit(t *testing.T, data []byte) junitDoc {
	t.Helper()
	require.True(t, bytes.HasPrefix(data, []byte(xml.Header)), "XML declaration first")
	var doc junitDoc
	require.NoError(t, xml.Unmarshal(data, &doc))
	return doc
}

// TestJUnit: one testcase per assertion, failures carry observed and
// expected; a file that does not load is an error testcase, a file not
// run a skipped one.
func TestJUnit(t *testing.T) {
	sc := fixture.CrashScenario()
	sc.Assertions = []scenario.Assertion{
		{Name: "impossible latency", Latency: &scenario.LatencyCheck{Percentile: 50, Max: scenario.D(time.Millisecond)}},
		{SuccessRate: &scenario.SuccessRateCheck{Min: 1}},
	}
	rep, err := sim.RunWith(sim.TestRunner(t), sc)
	require.NoError(t, err)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("name: x\nduration: 1s\ncolour: red\n"), 0o644))
	_, loadErr := scenario.Load(bad)
	require.Error(t, loadErr)

	var out bytes.Buffer
	require.NoError(t, report.WriteJUnit(&out,
		report.Outcome{File: "crash.yaml", Report: rep},
		report.Outcome{File: bad, Err: loadErr},
		report.Outcome{File: "other.yaml", Skipped: "not run: another file is invalid"},
	))
	doc := parseJUnit(t, out.Bytes())
	assert.Equal(t, 4, doc.Tests)
	assert.Equal(t, 1, doc.Failures)
	assert.Equal(t, 1, doc.Errors)
	assert.Equal(t, 1, doc.Skipped)
	require.Len(t, doc.Suites, 3)

	s := doc.Suites[0]
	assert.Equal(t, "builder-crash", s.Name)
	assert.Equal(t, "crash.yaml", s.File)
	assert.Equal(t, 2, s.Tests)
	assert.Equal(t, 1, s.Failures)
	require.Len(t, s.Cases, 2)
	c := s.Cases[0]
	assert.Equal(t, "impossible latency", c.Name)
	assert.Equal(t, "builder-crash", c.Classname)
	require.NotNil(t, c.Failure)
	assert.Equal(t, "observed 10.0ms, expected <= 1.00ms", c.Failure.Message)
	assert.Equal(t, "latency", c.Failure.Type)
	assert.Equal(t, "observed 10.0ms, expected <= 1.00ms\n0s-20s: 2000 calls", c.Failure.Text)
	c = s.Cases[1]
	assert.Equal(t, "success rate >= 100%", c.Name)
	assert.Nil(t, c.Failure)
	assert.Equal(t, "observed 100%, expected >= 100%", c.SystemOut)
	props := map[string]string{}
	for _, p := range s.Properties {
		props[p.Name] = p.Value
	}
	assert.Equal(t, "99", props["seed"])
	assert.Equal(t, "2000", props["calls"])
	assert.True(t, strings.HasPrefix(s.SystemOut, "FAIL  builder-crash\n"), "the text report, line breaks kept")

	s = doc.Suites[1]
	assert.Equal(t, bad, s.Name)
	require.Len(t, s.Cases, 1)
	require.NotNil(t, s.Cases[0].Error)
	assert.Equal(t, "load", s.Cases[0].Name)
	assert.Contains(t, s.Cases[0].Error.Message, "3 problems; the first: "+bad+":1:1: topology.services: the topology needs at least one service")
	assert.Contains(t, s.Cases[0].Error.Text, bad+`:3:1: colour: unknown field "colour"`)

	s = doc.Suites[2]
	require.Len(t, s.Cases, 1)
	require.NotNil(t, s.Cases[0].Skipped)
	assert.Equal(t, "not run: another file is invalid", s.Cases[0].Skipped.Message)

	// Write's junit format is the same document for reports.
	var viaWrite bytes.Buffer
	require.NoError(t, report.Write(&viaWrite, report.FormatJUnit, rep))
	doc = parseJUnit(t, viaWrite.Bytes())
	assert.Equal(t, 2, doc.Tests)
	assert.Equal(t, 1, doc.Failures)
}

// TestJUnitNoAssertions: a scenario without assertions still shows as
// one passing testcase.
func TestJUnitNoAssertions(t *testing.T) {
	sc := fixture.CrashScenario()
	sc.Assertions = nil
	rep, err := sim.RunWith(sim.TestRunner(t), sc)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, report.WriteJUnit(&out, report.Outcome{Report: rep, Suffix: " [seed 99]"}))
	doc := parseJUnit(t, out.Bytes())
	require.Len(t, doc.Suites, 1)
	assert.Equal(t, "builder-crash [seed 99]", doc.Suites[0].Name)
	require.Len(t, doc.Suites[0].Cases, 1)
	assert.Equal(t, "run", doc.Suites[0].Cases[0].Name)
	assert.Equal(t, "2000 calls, 0 failed (no assertions)", doc.Suites[0].Cases[0].SystemOut)
	assert.Zero(t, doc.Failures+doc.Errors)
}
