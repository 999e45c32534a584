package ui

import "github.com/charmbracelet/bubbles/key"

// keyMap is every key the live view answers to.
type keyMap struct {
	Detach  key.Binding
	Halt    key.Binding
	Details key.Binding
	Help    key.Binding

	// While "halt?" is asked, q cancels the question like n and esc: it is
	// what people press to back out. ctrl-c detaches there as everywhere.
	Yes       key.Binding
	Cancel    key.Binding
	Interrupt key.Binding
}

func newKeyMap(canHalt bool) keyMap {
	k := keyMap{
		Detach:    key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "detach (the deploy goes on)")),
		Halt:      key.NewBinding(key.WithKeys("h"), key.WithHelp("h", "halt and roll back")),
		Details:   key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "expand details")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Yes:       key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "halt and roll back")),
		Cancel:    key.NewBinding(key.WithKeys("n", "N", "esc", "q"), key.WithHelp("n/esc/q", "cancel")),
		Interrupt: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "detach")),
	}
	k.Halt.SetEnabled(canHalt)
	return k
}

// ShortHelp and FullHelp make keyMap a help.KeyMap.
func (k keyMap) ShortHelp() []key.Binding { return []key.Binding{k.Detach, k.Halt, k.Details, k.Help} }

func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Detach, k.Halt}, {k.Details, k.Help}}
}

// confirmHelp is the help line while "halt?" is asked.
func (k keyMap) confirmHelp() []key.Binding { return []key.Binding{k.Yes, k.Cancel, k.Interrupt} }
