package deployer

// Test helpers for the external test package (machine_test.go), which
// cannot be package deployer: it imports localprovider, which imports
// deployer.
var (
	TestBucket  = testBucket
	Upload      = upload
	ReleaseYAML = releaseYAML
)

type ReleaseSpec = releaseSpec
