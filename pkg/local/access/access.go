// Package access says where a running local backend listens and how to sign
// for it, and asks it who it is. It is what a client of the local backend
// needs, without the server and its engine.
package access

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// HealthPath answers anyone with the status and version alone; a request
// signed with the server's credentials also gets the server's instance, so a
// CLI can tell whether the server behind endpoint.json is the one for its
// data dir. It cannot clash with S3: a bucket name cannot start with '_'.
const HealthPath = "/_odin/health"

// EmptySHA256 is the hex SHA-256 of an empty body.
const EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Endpoint is where a running local backend listens and how to sign for it.
type Endpoint struct {
	URL             string `json:"url"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	Region          string `json:"region"`
	Account         string `json:"account"`
}

// String keeps the secret out of logs and %v.
func (e Endpoint) String() string {
	return fmt.Sprintf("Endpoint{%s, %s, %s/%s, secret redacted}", e.URL, e.AccessKeyID, e.Region, e.Account)
}

func (e Endpoint) config() aws.Config {
	return aws.Config{
		Region:           e.Region,
		Credentials:      credentials.NewStaticCredentialsProvider(e.AccessKeyID, e.SecretAccessKey, ""),
		RetryMaxAttempts: 3,
	}
}

// S3Client is an S3 client for the local backend at e.
func (e Endpoint) S3Client() *s3.Client {
	return s3.NewFromConfig(e.config(), func(o *s3.Options) {
		o.BaseEndpoint = aws.String(e.URL)
		o.UsePathStyle = true
	})
}

// SFNClient is a Step Functions client for the local backend at e.
func (e Endpoint) SFNClient() *sfn.Client {
	return sfn.NewFromConfig(e.config(), func(o *sfn.Options) { o.BaseEndpoint = aws.String(e.URL) })
}

// Health is the health answer. Anyone on the machine can ask, so without a
// signature it says nothing about the machine (no pid, no paths) and leaves
// out the instance: only a holder of the credentials learns it, so a process
// that takes the port after the server died cannot pass for it.
type Health struct {
	Status   string `json:"status"`
	Version  string `json:"version,omitempty"`
	Instance string `json:"instance,omitempty"`
	// AWSEndpoint is where target aws releases are rehearsed (signed
	// requests only).
	AWSEndpoint string `json:"awsEndpoint,omitempty"`
}

// Ask asks the server at ep who it is, signed with ep's credentials: only a
// holder of them learns its instance and where it rehearses target aws.
func Ask(ctx context.Context, ep Endpoint, client aws.HTTPClient) (Health, error) {
	var h Health
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.URL+HealthPath, nil)
	if err != nil {
		return h, err
	}
	req.Header.Set("X-Amz-Content-Sha256", EmptySHA256)
	creds := aws.Credentials{AccessKeyID: ep.AccessKeyID, SecretAccessKey: ep.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, EmptySHA256, "s3", ep.Region, time.Now()); err != nil {
		return h, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("%s answered %s", ep.URL+HealthPath, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&h); err != nil {
		return h, fmt.Errorf("%s: %w", ep.URL+HealthPath, err)
	}
	return h, nil
}
