// Command odin validates, releases and watches deploys driven by AWS Step Functions.
package main

import (
	"os"

	"github.com/odin-deploy/odin/cmd"
)

func main() {
	os.Exit(cmd.Execute())
}
