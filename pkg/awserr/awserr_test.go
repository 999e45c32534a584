package awserr

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
)

func TestIs(t *testing.T) {
	err := fmt.Errorf("create group: %w", &smithy.GenericAPIError{Code: "AlreadyExists", Message: "exists"})
	if !Is(err, "ValidationError", "AlreadyExists") {
		t.Error("a wrapped AlreadyExists is not AlreadyExists")
	}
	if Is(err, "ValidationError") || Is(errors.New("AlreadyExists"), "AlreadyExists") || Is(nil, "AlreadyExists") {
		t.Error("Is matched an error of another code, or no API error")
	}
}
