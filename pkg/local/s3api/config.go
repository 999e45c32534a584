package s3api

import (
	"encoding/xml"
	"net/http"
	"net/url"
)

// Bucket and object configuration the local backend does not keep. Tools
// that read a bucket's whole configuration before using it (Terraform's
// aws_s3_bucket, for one) get S3's answers for a bucket where none was ever
// set; writes stay NotImplemented so nobody believes a setting took effect.

type emptyConfig struct {
	XMLName xml.Name
	NS      string `xml:"xmlns,attr"`
}

type grant struct {
	Grantee struct {
		XSI  string `xml:"xmlns:xsi,attr"`
		Type string `xml:"xsi:type,attr"`
		ID   string `xml:"ID"`
		Name string `xml:"DisplayName"`
	} `xml:"Grantee"`
	Permission string `xml:"Permission"`
}

type accessControlPolicy struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	NS      string   `xml:"xmlns,attr"`
	Owner   owner    `xml:"Owner"`
	Grants  []grant  `xml:"AccessControlList>Grant"`
}

type encryptionConfig struct {
	XMLName xml.Name `xml:"ServerSideEncryptionConfiguration"`
	NS      string   `xml:"xmlns,attr"`
	Rule    struct {
		Default struct {
			Algorithm string `xml:"SSEAlgorithm"`
		} `xml:"ApplyServerSideEncryptionByDefault"`
		BucketKeyEnabled bool `xml:"BucketKeyEnabled"`
	} `xml:"Rule"`
}

type requestPayment struct {
	XMLName xml.Name `xml:"RequestPaymentConfiguration"`
	NS      string   `xml:"xmlns,attr"`
	Payer   string   `xml:"Payer"`
}

type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	NS      string   `xml:"xmlns,attr"`
	TagSet  struct{} `xml:"TagSet"`
}

func notConfigured(code, msg, bucket string) *Error {
	return &Error{Status: 404, Code: code, Message: msg, Bucket: bucket}
}

// bucketConfig answers a GET of a bucket sub-resource; ok is false when q
// names none of them.
func (a *API) bucketConfig(w http.ResponseWriter, bucket string, q url.Values) (ok bool, err error) {
	answers := []struct {
		sub  string
		body any
		err  *Error
	}{
		{"versioning", emptyConfig{XMLName: xml.Name{Local: "VersioningConfiguration"}, NS: xmlNS}, nil},
		{"logging", emptyConfig{XMLName: xml.Name{Local: "BucketLoggingStatus"}, NS: xmlNS}, nil},
		{"accelerate", emptyConfig{XMLName: xml.Name{Local: "AccelerateConfiguration"}, NS: xmlNS}, nil},
		{"notification", emptyConfig{XMLName: xml.Name{Local: "NotificationConfiguration"}, NS: xmlNS}, nil},
		{"acl", a.ownerACL(), nil},
		{"encryption", a.defaultEncryption(), nil},
		{"requestPayment", requestPayment{NS: xmlNS, Payer: "BucketOwner"}, nil},
		{"cors", nil, notConfigured("NoSuchCORSConfiguration", "The CORS configuration does not exist", bucket)},
		{"website", nil, notConfigured("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration", bucket)},
		{"lifecycle", nil, notConfigured("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", bucket)},
		{"policy", nil, notConfigured("NoSuchBucketPolicy", "The bucket policy does not exist", bucket)},
		{"policyStatus", nil, notConfigured("NoSuchBucketPolicy", "The bucket policy does not exist", bucket)},
		{"tagging", nil, notConfigured("NoSuchTagSet", "The TagSet does not exist", bucket)},
		{"replication", nil, notConfigured("ReplicationConfigurationNotFoundError", "The replication configuration was not found", bucket)},
		{"object-lock", nil, notConfigured("ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket", bucket)},
		{"ownershipControls", nil, notConfigured("OwnershipControlsNotFoundError", "The bucket ownership controls were not found", bucket)},
		{"publicAccessBlock", nil, notConfigured("NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found", bucket)},
	}
	for _, ans := range answers {
		if !q.Has(ans.sub) {
			continue
		}
		exists, err := a.st.bucketExists(bucket)
		if err != nil {
			return true, err
		}
		if !exists {
			return true, errNoSuchBucket(bucket)
		}
		if ans.err != nil {
			return true, ans.err
		}
		writeXML(w, http.StatusOK, ans.body)
		return true, nil
	}
	return false, nil
}

// objectConfig answers GET ?acl and ?tagging of an object.
func (a *API) objectConfig(w http.ResponseWriter, bucket, key string, q url.Values) (ok bool, err error) {
	if !q.Has("acl") && !q.Has("tagging") {
		return false, nil
	}
	_, f, err := a.st.openObject(bucket, key)
	if err != nil {
		return true, err
	}
	f.Close()
	if q.Has("acl") {
		writeXML(w, http.StatusOK, a.ownerACL())
	} else {
		writeXML(w, http.StatusOK, tagging{NS: xmlNS})
	}
	return true, nil
}

func (a *API) ownerACL() accessControlPolicy {
	g := grant{Permission: "FULL_CONTROL"}
	g.Grantee.XSI, g.Grantee.Type = "http://www.w3.org/2001/XMLSchema-instance", "CanonicalUser"
	g.Grantee.ID, g.Grantee.Name = a.owner, "odin-local"
	return accessControlPolicy{NS: xmlNS, Owner: owner{ID: a.owner, DisplayName: "odin-local"}, Grants: []grant{g}}
}

// defaultEncryption is what S3 reports for every bucket since January 2023.
func (a *API) defaultEncryption() encryptionConfig {
	c := encryptionConfig{NS: xmlNS}
	c.Rule.Default.Algorithm = "AES256"
	return c
}
