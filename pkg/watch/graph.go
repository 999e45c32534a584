package watch

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// Graph is what a view needs from a state machine definition: the top-level
// states in the order a reader expects them, and which top-level state owns
// each nested state (a Parallel branch's or a Map iteration's states).
type Graph struct {
	// Steps are the top-level states: the happy path from StartAt to a
	// Succeed state first, then the rest of what Next, Choices and Default
	// reach, then the states only reached through a Catch, then any
	// unreachable ones by name.
	Steps []Step
	// HappyPath counts the leading Steps that are the happy path, so a view
	// can say "3 of 11" while nothing has failed, not "3 of 17".
	HappyPath int
	owner     map[string]string
}

// Step is one top-level state.
type Step struct {
	Name string
	Type string // Task, Wait, Choice, Pass, Parallel, Map, Succeed, Fail
	// Next is the state it goes on to ("" at an end, and for a Choice).
	Next string
}

type aslState struct {
	Type    string `json:"Type"`
	Next    string `json:"Next"`
	End     bool   `json:"End"`
	Default string `json:"Default"`
	Choices []struct {
		Next string `json:"Next"`
	} `json:"Choices"`
	Catch []struct {
		Next string `json:"Next"`
	} `json:"Catch"`
	Branches      []aslMachine `json:"Branches"`
	Iterator      *aslMachine  `json:"Iterator"`
	ItemProcessor *aslMachine  `json:"ItemProcessor"`
}

type aslMachine struct {
	StartAt string              `json:"StartAt"`
	States  map[string]aslState `json:"States"`
}

// ParseDefinition reads a States Language definition (JSON) into a Graph.
func ParseDefinition(def []byte) (*Graph, error) {
	var m aslMachine
	if err := json.Unmarshal(def, &m); err != nil {
		return nil, fmt.Errorf("state machine definition: %w", err)
	}
	if len(m.States) == 0 {
		return nil, fmt.Errorf("state machine definition: no States")
	}
	g := &Graph{owner: map[string]string{}}
	seen := map[string]bool{}
	var catchTargets []string
	var walk func(name string)
	walk = func(name string) {
		st, ok := m.States[name]
		if !ok || seen[name] {
			return
		}
		seen[name] = true
		g.Steps = append(g.Steps, Step{Name: name, Type: st.Type, Next: st.Next})
		for _, c := range st.Catch {
			catchTargets = append(catchTargets, c.Next)
		}
		walk(st.Next)
		for _, c := range st.Choices {
			walk(c.Next)
		}
		walk(st.Default)
	}
	// The happy path first: StartAt to the nearest Succeed state.
	for _, name := range happyPath(m) {
		seen[name] = true
		g.Steps = append(g.Steps, Step{Name: name, Type: m.States[name].Type, Next: m.States[name].Next})
		for _, c := range m.States[name].Catch {
			catchTargets = append(catchTargets, c.Next)
		}
	}
	g.HappyPath = len(g.Steps)
	// Then the rest of what normal transitions reach, depth first.
	for _, name := range slices.Clone(g.Steps) {
		st := m.States[name.Name]
		walk(st.Next)
		for _, c := range st.Choices {
			walk(c.Next)
		}
		walk(st.Default)
	}
	walk(m.StartAt)
	// Catch targets are the failure paths: show them after the happy path,
	// in the order they were found.
	for i := 0; i < len(catchTargets); i++ {
		walk(catchTargets[i])
	}
	var rest []string
	for name := range m.States {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		g.Steps = append(g.Steps, Step{Name: name, Type: m.States[name].Type, Next: m.States[name].Next})
	}
	for name, st := range m.States {
		g.owner[name] = name
		addNested(g.owner, name, st, 0)
	}
	return g, nil
}

// happyPath is the shortest path over normal transitions (Next, Choices,
// Default) from StartAt to a Succeed state, or to a state that ends the
// machine (End) when there is no Succeed state; nil when neither is reached.
func happyPath(m aslMachine) []string {
	parent := map[string]string{}
	queue := []string{m.StartAt}
	if _, ok := m.States[m.StartAt]; !ok {
		return nil
	}
	parent[m.StartAt] = ""
	var end, fallback string
	for len(queue) > 0 && end == "" {
		name := queue[0]
		queue = queue[1:]
		st := m.States[name]
		if st.Type == "Succeed" {
			end = name
			break
		}
		if fallback == "" && (st.End || (st.Next == "" && st.Type != "Choice" && st.Type != "Fail")) {
			fallback = name
		}
		next := []string{st.Next}
		for _, c := range st.Choices {
			next = append(next, c.Next)
		}
		next = append(next, st.Default)
		for _, n := range next {
			if _, ok := m.States[n]; !ok {
				continue
			}
			if _, ok := parent[n]; !ok {
				parent[n] = name
				queue = append(queue, n)
			}
		}
	}
	if end == "" {
		end = fallback
	}
	if end == "" {
		return nil
	}
	var path []string
	for n := end; ; n = parent[n] {
		path = append(path, n)
		if n == m.StartAt || len(path) > len(m.States) {
			break
		}
	}
	slices.Reverse(path)
	return path
}

// addNested maps every state nested under a top-level state to it. depth
// bounds recursion on hostile definitions.
func addNested(owner map[string]string, top string, st aslState, depth int) {
	if depth > 64 {
		return
	}
	subs := slices.Clone(st.Branches)
	if st.Iterator != nil {
		subs = append(subs, *st.Iterator)
	}
	if st.ItemProcessor != nil {
		subs = append(subs, *st.ItemProcessor)
	}
	for _, sub := range subs {
		for name, inner := range sub.States {
			if _, ok := owner[name]; !ok {
				owner[name] = top
			}
			addNested(owner, top, inner, depth+1)
		}
	}
}

// Owner is the top-level state that a state (top-level or nested) belongs
// to, or "" when the definition has no such state.
func (g *Graph) Owner(state string) string {
	if g == nil {
		return ""
	}
	return g.owner[state]
}

// Index is the position of a top-level step in Steps, or -1.
func (g *Graph) Index(step string) int {
	if g == nil {
		return -1
	}
	return slices.IndexFunc(g.Steps, func(s Step) bool { return s.Name == step })
}
