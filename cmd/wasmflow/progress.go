package main

import (
	"fmt"
	"io"
	"strings"
)

// progressLine draws "<label>  1.2 MiB / 3.3 MiB  36%" on a terminal,
// redrawing it in place (carriage return) each time another percent is
// sent; done ends the line.
type progressLine struct {
	w       io.Writer
	label   string
	percent int
	drawn   bool
}

func newProgressLine(w io.Writer, label string) *progressLine {
	return &progressLine{w: w, label: label, percent: -1}
}

// update is a client.UploadParams.Progress function.
func (p *progressLine) update(sent, total int64) {
	percent := 100
	if total > 0 {
		percent = int(sent * 100 / total)
	}
	if percent == p.percent {
		return
	}
	p.percent = percent
	line := fmt.Sprintf("%s  %s / %s  %3d%%", p.label, formatBytes(sent), formatBytes(total), percent)
	if sent == total {
		// The server compiles and checks the module before it answers.
		line += "  sent; the server checks it"
	}
	// \r returns to the line's start; \x1b[K clears what a longer
	// earlier line left.
	_, _ = fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	p.drawn = true
}

// done ends the progress line, if one was drawn.
func (p *progressLine) done() {
	if p.drawn {
		_, _ = fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// formatBytes is n in B, KiB or MiB with one decimal.
func formatBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<10)), ".0") + " KiB"
	default:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<20)), ".0") + " MiB"
	}
}
