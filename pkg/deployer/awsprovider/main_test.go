package awsprovider

import (
	"os"
	"testing"

	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// Tests share one moto server (moto.Shared); each uses its own names or its
// own account, so they need no reset between them.
func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }
