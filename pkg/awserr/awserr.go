// Package awserr tells AWS API errors apart by their error code, the one
// thing every AWS SDK error and every AWS-compatible server agree on.
package awserr

import (
	"errors"

	"github.com/aws/smithy-go"
)

// Is says err is an AWS API error with one of codes.
func Is(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}
