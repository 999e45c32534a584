package backend

import (
	"fmt"
	"slices"
	"strings"
)

// CheckRegion refuses a region the AWS SDK does not know (a typo would
// otherwise surface as a DNS error on the first call), naming the closest
// known one.
func CheckRegion(region string) error {
	if _, ok := regions[region]; ok {
		return nil
	}
	best, bestD := "", 3
	names := make([]string, 0, len(regions))
	for r := range regions {
		names = append(names, r)
	}
	slices.Sort(names)
	for _, r := range names {
		if d := distance(region, r); d < bestD {
			best, bestD = r, d
		}
	}
	msg := fmt.Sprintf("unknown AWS region %q", region)
	if best != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", best)
	}
	return fmt.Errorf("%s: set --region, ODIN_REGION or AWS_REGION to one of %s", msg, strings.Join(names, ", "))
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
