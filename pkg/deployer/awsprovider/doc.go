// Package awsprovider deploys releases with target aws: a launch template and
// an Auto Scaling group per service and release, in the release's account,
// reached through a role the deployer assumes there.
package awsprovider
