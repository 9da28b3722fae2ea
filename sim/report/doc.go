// Package report renders sim's reports for people and CI: JUnit XML (one
// testsuite per scenario, one testcase per assertion; WriteJUnit, with
// Outcome for files that did not load or run) and one self-contained HTML
// page (WriteHTML: verdict, assertions, the waterfall of a representative
// call under each failed assertion of an observed run, charts over virtual
// time drawn with gonum/plot with the faults shaded, the fault timeline,
// the traffic per instance). Write picks a renderer by format name, text
// and JSON included (those come from sim itself).
package report
