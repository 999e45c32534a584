package ui

import "github.com/charmbracelet/bubbles/key"

// keyMap is every key the live view answers to.
type keyMap struct {
	Detach  key.Binding
	Halt    key.Binding
	Yes     key.Binding
	No      key.Binding
	Details key.Binding
	Help    key.Binding
}

func newKeyMap(canHalt bool) keyMap {
	k := keyMap{
		Detach:  key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "detach (the deploy goes on)")),
		Halt:    key.NewBinding(key.WithKeys("h"), key.WithHelp("h", "halt and roll back")),
		Yes:     key.NewBinding(key.WithKeys("y", "Y")),
		No:      key.NewBinding(key.WithKeys("n", "N", "esc")),
		Details: key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "expand details")),
		Help:    key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
	}
	k.Halt.SetEnabled(canHalt)
	return k
}

// ShortHelp and FullHelp make keyMap a help.KeyMap.
func (k keyMap) ShortHelp() []key.Binding { return []key.Binding{k.Detach, k.Halt, k.Details, k.Help} }

func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Detach, k.Halt}, {k.Details, k.Help}}
}
