package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// writeJSON writes v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows under a header, columns aligned.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// indentJSON pretty-prints a JSON document for people (unchanged if it is
// not one).
func indentJSON(b []byte) []byte {
	var out strings.Builder
	var v json.RawMessage = b
	enc, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return b
	}
	out.Write(enc)
	return []byte(out.String())
}
