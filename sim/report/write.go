package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/microsim/microsim/sim"
)

// Formats Write knows.
const (
	FormatText  = "text"
	FormatJSON  = "json"
	FormatJUnit = "junit"
	FormatHTML  = "html"
)

// Formats lists the report formats, for flag help.
func Formats() []string { return []string{FormatText, FormatJSON, FormatJUnit, FormatHTML} }

// Write renders reports in format to w: text is one section per report;
// json is one JSON object per report (exactly one for one report); junit
// is one JUnit XML document (WriteJUnit); html one self-contained page
// (WriteHTML).
func Write(w io.Writer, format string, reports ...*sim.Report) error {
	switch format {
	case FormatJUnit:
		outcomes := make([]Outcome, len(reports))
		for i, r := range reports {
			outcomes[i] = Outcome{File: r.File, Report: r}
		}
		return WriteJUnit(w, outcomes...)
	case FormatHTML:
		return WriteHTML(w, reports...)
	case FormatText, "":
		for i, r := range reports {
			if i > 0 {
				if _, err := io.WriteString(w, "\n"); err != nil {
					return err
				}
			}
			if err := r.WriteText(w); err != nil {
				return err
			}
		}
		return nil
	case FormatJSON:
		for _, r := range reports {
			if err := r.WriteJSON(w); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown report format %q (known: %s)", format, strings.Join(Formats(), ", "))
}
