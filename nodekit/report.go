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
	fmt.Fprintf(w, "%s %s\n", t.Module, t.Digest)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range t.Cases {
		fmt.Fprintf(tw, "%s\t%s\t%s\tmemory %s\toutput %s\n", strings.ToUpper(c.Status), c.Name,
			c.Duration.Round(10*time.Microsecond), formatSize(c.MemoryPeakBytes), formatSize(uint64(c.OutputBytes))) //nolint:gosec // a length
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range t.Cases {
		if c.Status == StatusPass {
			continue
		}
		fmt.Fprintf(w, "\n%s %s: %s\n", strings.ToUpper(c.Status), c.Name, c.Message)
		if c.Diff != "" {
			fmt.Fprint(w, indent(c.Diff))
		}
		if c.Status == StatusFail && len(c.Logs) > 0 {
			fmt.Fprintln(w, "  logs:")
			for _, l := range c.Logs {
				fmt.Fprintf(w, "    [%s] %s\n", l.Level, l.Message)
			}
		}
	}
	_, err := fmt.Fprintf(w, "\n%d passed, %d failed\n", t.Passed, t.Failed)
	return err
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "size     %d bytes\nsha256   %s\nabi      %s (detected from imports and exports)\n", r.Size, r.SHA256, r.ABI)
	if r.Memory != nil {
		max := "no maximum"
		if r.Memory.HasMax {
			max = fmt.Sprintf("maximum %d pages (%s)", r.Memory.MaxPages, formatSize(uint64(r.Memory.MaxPages)*65536))
		}
		where := "declared"
		if r.Memory.Imported {
			where = "imported"
		}
		fmt.Fprintf(w, "memory   %s: minimum %d pages (%s), %s\n", where, r.Memory.MinPages, formatSize(uint64(r.Memory.MinPages)*65536), max)
	} else {
		fmt.Fprintln(w, "memory   none")
	}
	caps := "none"
	if len(r.Capabilities) > 0 {
		caps = strings.Join(r.Capabilities, ", ")
	}
	fmt.Fprintf(w, "needs    %s\n", caps)
	if r.Manifest != nil {
		fmt.Fprintf(w, "manifest %s@%s, abi %s\n", r.Manifest.Name, r.Manifest.Version, r.Manifest.ABI)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nexports (%d)\n", len(r.Exports))
	for _, e := range r.Exports {
		fmt.Fprintf(tw, "  %s\t%s\n", e.Name, signatureOf(e.Extern, e.Params, e.Results))
	}
	fmt.Fprintf(tw, "\nimports (%d)\n", len(r.Imports))
	for _, im := range r.Imports {
		fmt.Fprintf(tw, "  %s.%s\t%s\t%s\t%s\n", im.Module, im.Name, signatureOf(im.Extern, im.Params, im.Results), im.Status, im.Note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Problems) == 0 {
		_, err := fmt.Fprintln(w, "\nno problems")
		return err
	}
	fmt.Fprintf(w, "\nproblems (%d)\n", len(r.Problems))
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  %s: %s\n", p.Field, p.Message)
	}
	return nil
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
