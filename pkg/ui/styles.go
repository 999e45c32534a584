package ui

import "github.com/charmbracelet/lipgloss"

// styles is every style the live view uses. Built from one renderer, so a
// renderer pinned to no colour (NO_COLOR, --no-color, tests) gives plain
// text everywhere.
type styles struct {
	title, dim, ok, bad, warn, running, errorText, verdictOK, verdictBad lipgloss.Style
}

func newStyles(r *lipgloss.Renderer) styles {
	s := r.NewStyle
	return styles{
		title:      s().Bold(true),
		dim:        s().Foreground(lipgloss.AdaptiveColor{Light: "245", Dark: "242"}),
		ok:         s().Foreground(lipgloss.Color("2")),
		bad:        s().Foreground(lipgloss.Color("1")).Bold(true),
		warn:       s().Foreground(lipgloss.Color("3")),
		running:    s().Foreground(lipgloss.Color("6")),
		errorText:  s().Foreground(lipgloss.Color("1")),
		verdictOK:  s().Foreground(lipgloss.Color("2")).Bold(true),
		verdictBad: s().Foreground(lipgloss.Color("1")).Bold(true),
	}
}
