package report

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/scenario"
)

// JUnit XML, the format CI systems read test results from: one
// <testsuite> per scenario run, one <testcase> per assertion (failed ones
// carry a <failure> whose message has the observed and the expected
// value), and one <testcase> with an <error> per scenario that could not
// be loaded or run. A scenario without assertions gets one testcase,
// "run", that passes when the run completed.

// Outcome is what became of one scenario file, for reports that also
// show scenarios that could not run (JUnit).
type Outcome struct {
	// File is the scenario file ("" for a scenario built in Go).
	File string
	// Report is the run's report; nil when it did not run.
	Report *sim.Report
	// Err says why the file could not be loaded or run.
	Err error
	// Skipped says why the file was not run although it is valid.
	Skipped string
	// Suffix is added to the suite's name, for example " [seed 7]".
	Suffix string
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	File       string           `xml:"file,attr,omitempty"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Cases      []junitCase      `xml:"testcase"`
	SystemOut  *junitText       `xml:"system-out,omitempty"`
}

// junitText is text kept as CDATA, so that line breaks stay readable.
type junitText struct {
	Text string `xml:",cdata"`
}

func cdata(s string) *junitText { return &junitText{Text: s} }

type junitProperties struct {
	List []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes the outcomes as one JUnit XML document.
func WriteJUnit(w io.Writer, outcomes ...Outcome) error {
	doc := junitSuites{Name: "simctl"}
	total := 0.0
	for _, o := range outcomes {
		s := junitSuiteOf(o)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
		if o.Report != nil {
			total += o.Report.WallSeconds
		}
		doc.Suites = append(doc.Suites, s)
	}
	doc.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitSuiteOf(o Outcome) junitSuite {
	r := o.Report
	name := o.File
	if r != nil {
		name = r.Scenario
	}
	if name == "" {
		name = "scenario"
	}
	name += o.Suffix
	s := junitSuite{Name: name, File: o.File, Time: "0"}
	switch {
	case o.Err != nil:
		s.Cases = []junitCase{{Name: "load", Classname: name, Time: "0", File: o.File,
			Error: &junitProblem{Message: errorSummary(o.Err), Type: "invalid", Text: o.Err.Error()}}}
		s.Errors = 1
	case r == nil:
		msg := o.Skipped
		if msg == "" {
			msg = "not run"
		}
		s.Cases = []junitCase{{Name: "run", Classname: name, Time: "0", File: o.File, Skipped: &junitSkipped{Message: msg}}}
		s.Skipped = 1
	default:
		s.Time = seconds(r.WallSeconds)
		s.Properties = &junitProperties{List: []junitProperty{
			{Name: "seed", Value: strconv.FormatUint(r.Seed, 10)},
			{Name: "virtual_seconds", Value: strconv.FormatFloat(r.VirtualSeconds, 'f', -1, 64)},
			{Name: "calls", Value: strconv.FormatUint(r.Totals.Calls, 10)},
			{Name: "successes", Value: strconv.FormatUint(r.Totals.Successes, 10)},
			{Name: "retries", Value: strconv.FormatUint(r.Totals.Retries, 10)},
			{Name: "p50_ms", Value: strconv.FormatFloat(r.Latency.P50, 'f', -1, 64)},
			{Name: "p99_ms", Value: strconv.FormatFloat(r.Latency.P99, 'f', -1, 64)},
		}}
		for _, a := range r.Assertions {
			s.Cases = append(s.Cases, junitCaseOf(name, o.File, a))
			if !a.Passed {
				s.Failures++
			}
		}
		if len(r.Assertions) == 0 {
			s.Cases = []junitCase{{Name: "run", Classname: name, Time: "0", File: o.File,
				SystemOut: cdata(fmt.Sprintf("%d calls, %d failed (no assertions)", r.Totals.Calls, r.Totals.Failures))}}
		}
		var text strings.Builder
		_ = r.WriteText(&text)
		s.SystemOut = cdata(text.String())
	}
	s.Tests = len(s.Cases)
	return s
}

func junitCaseOf(suite, file string, a sim.AssertionResult) junitCase {
	c := junitCase{Name: a.Name, Classname: suite, Time: "0", File: file}
	msg := fmt.Sprintf("observed %s, expected %s", a.Observed, a.Expected)
	if a.Passed {
		c.SystemOut = cdata(msg)
		return c
	}
	text := msg
	if a.Detail != "" {
		text += "\n" + a.Detail
	}
	c.Failure = &junitProblem{Message: msg, Type: a.Kind, Text: text}
	return c
}

// errorSummary is the first line of an error, with the number of
// problems when there are several.
func errorSummary(err error) string {
	var list scenario.ErrorList
	if errors.As(err, &list) && len(list) > 1 {
		return fmt.Sprintf("%d problems; the first: %s", len(list), list[0].Error())
	}
	first, _, _ := strings.Cut(strings.TrimSpace(err.Error()), "\n")
	return first
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }
