package nodekit

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes the report for a terminal: one line per case with its
// time, memory peak and output size, then why each failed case failed
// (with the output's diff and the module's logs), then a summary line.
func (t *TestReport) WriteText(w io.Writer) error {
	var err error
	printf := stickyPrintf(w, &err)
	printf("%s %s\n", t.Module, t.Digest)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := stickyPrintf(tw, &err)
	for _, c := range t.Cases {
		row("%s\t%s\t%s\tmemory %s\toutput %s\n", strings.ToUpper(c.Status), c.Name,
			c.Duration.Round(10*time.Microsecond), formatSize(c.MemoryPeakBytes), formatSize(uint64(c.OutputBytes))) //nolint:gosec // a length
	}
	if err == nil {
		err = tw.Flush()
	}
	for _, c := range t.Cases {
		if c.Status == StatusPass {
			continue
		}
		printf("\n%s %s: %s\n", strings.ToUpper(c.Status), c.Name, c.Message)
		if c.Diff != "" {
			printf("%s", indent(c.Diff))
		}
		if c.Status == StatusFail && len(c.Logs) > 0 {
			printf("  logs:\n")
			for _, l := range c.Logs {
				printf("    [%s] %s\n", l.Level, l.Message)
			}
		}
	}
	printf("\n%d passed, %d failed\n", t.Passed, t.Failed)
	return err
}

// stickyPrintf prints to w until a write fails, and keeps that error in *err.
func stickyPrintf(w io.Writer, err *error) func(format string, args ...any) {
	return func(format string, args ...any) {
		if *err == nil {
			_, *err = fmt.Fprintf(w, format, args...)
		}
	}
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	var err error
	printf := stickyPrintf(w, &err)
	printf("size     %d bytes\nsha256   %s\nabi      %s (detected from imports and exports)\n", r.Size, r.SHA256, r.ABI)
	if r.Memory != nil {
		maximum := "no maximum"
		if r.Memory.HasMax {
			maximum = fmt.Sprintf("maximum %d pages (%s)", r.Memory.MaxPages, formatSize(uint64(r.Memory.MaxPages)*65536))
		}
		where := "declared"
		if r.Memory.Imported {
			where = "imported"
		}
		printf("memory   %s: minimum %d pages (%s), %s\n", where, r.Memory.MinPages, formatSize(uint64(r.Memory.MinPages)*65536), maximum)
	} else {
		printf("memory   none\n")
	}
	caps := "none"
	if len(r.Capabilities) > 0 {
		caps = strings.Join(r.Capabilities, ", ")
	}
	printf("needs    %s\n", caps)
	if r.Manifest != nil {
		printf("manifest %s@%s, abi %s\n", r.Manifest.Name, r.Manifest.Version, r.Manifest.ABI)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := stickyPrintf(tw, &err)
	row("\nexports (%d)\n", len(r.Exports))
	for _, e := range r.Exports {
		row("  %s\t%s\n", e.Name, signatureOf(e.Extern, e.Params, e.Results))
	}
	row("\nimports (%d)\n", len(r.Imports))
	for _, im := range r.Imports {
		row("  %s.%s\t%s\t%s\t%s\n", im.Module, im.Name, signatureOf(im.Extern, im.Params, im.Results), im.Status, im.Note)
	}
	if err == nil {
		err = tw.Flush()
	}
	if len(r.Problems) == 0 {
		printf("\nno problems\n")
		return err
	}
	printf("\nproblems (%d)\n", len(r.Problems))
	for _, p := range r.Problems {
		printf("  %s: %s\n", p.Field, p.Message)
	}
	return err
}

func signatureOf(extern string, params, results []string) string {
	if extern != "func" {
		return extern
	}
	return "func (" + strings.Join(params, ", ") + ") -> (" + strings.Join(results, ", ") + ")"
}

// formatSize is n bytes for a person: 512 B, 1.5 KiB, 3.2 MiB.
func formatSize(n uint64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return "  " + strings.Join(lines, "\n  ") + "\n"
}
