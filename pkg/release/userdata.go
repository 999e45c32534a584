package release

// MaxUserDataBytes is EC2's limit on an instance's user data, counted before
// base64 encoding.
const MaxUserDataBytes = 16384

// UserDataValues are what UserData substitutes that the release file itself
// does not say.
type UserDataValues struct {
	// ReleaseID is the id of the release being deployed (see ReleaseID).
	ReleaseID string
	// Service is the name of the service whose instances run the script.
	Service string
	// Bucket is the S3 bucket that holds the release.
	Bucket string
}

// userDataVariables are the placeholders ({{NAME}}) UserData replaces, in
// the order messages list them.
var userDataVariables = []string{
	"RELEASE_ID", "PROJECT_NAME", "CONFIG_NAME", "SERVICE_NAME", "RELEASE_BUCKET",
	"AWS_ACCOUNT_ID", "AWS_REGION", "RELEASE_DIR",
}

var placeholder = lazyRegexp(`\{\{\s*([A-Za-z0-9_]*)\s*\}\}`)

// UserData is r's user_data as the instances of service v.Service run it:
// each {{NAME}} (spaces inside the braces allowed) replaced by its value.
// {{RELEASE_DIR}} is the S3 prefix that holds the release object "release":
// s3://<bucket>/<account>/<project>/<config>/<release id>. Placeholders it
// does not know are left as written; Parse refuses them.
func UserData(r *Release, v UserDataValues) string {
	values := map[string]string{
		"RELEASE_ID":     v.ReleaseID,
		"PROJECT_NAME":   r.ProjectName,
		"CONFIG_NAME":    r.ConfigName,
		"SERVICE_NAME":   v.Service,
		"RELEASE_BUCKET": v.Bucket,
		"AWS_ACCOUNT_ID": r.AWSAccountID,
		"AWS_REGION":     r.AWSRegion,
		"RELEASE_DIR":    "s3://" + v.Bucket + "/" + r.Root(r.AWSAccountID) + "/" + v.ReleaseID,
	}
	return placeholder().ReplaceAllStringFunc(r.UserData, func(m string) string {
		if value, ok := values[placeholder().FindStringSubmatch(m)[1]]; ok {
			return value
		}
		return m
	})
}
