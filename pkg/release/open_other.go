//go:build !unix

package release

const openNonBlocking = 0
