package backend

import (
	"context"
	"fmt"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// DefaultBucket is the release bucket Open uses when none is set: the local
// backend's own, else odin-<account>-<region>.
func DefaultBucket(kind, account, region string) string {
	if kind == Local {
		return LocalBucket
	}
	return fmt.Sprintf("odin-%s-%s", account, region)
}

// SDKRegion is the region the AWS SDK's configuration chain gives profile
// (AWS_REGION, AWS_DEFAULT_REGION, the profile's region), which Open uses
// on AWS when no region is set. It reads the environment and the shared
// config files only: no credentials are resolved and AWS is not called.
func SDKRegion(ctx context.Context, profile string) (string, error) {
	var lo []func(*awsconfig.LoadOptions) error
	if profile != "" {
		lo = append(lo, awsconfig.WithSharedConfigProfile(profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return "", fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg.Region, nil
}
