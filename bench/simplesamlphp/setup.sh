#!/usr/bin/env bash
# Sets up SimpleSAMLphp 1.19 as the peer IdP of the SSO benchmark on 127.0.0.1:8080, following
# the recipe in performance.md §4.1-4.5. Debian 12, as root, on a throw-away machine or
# container: it changes system-wide Apache and SimpleSAMLphp files.
#
#   bench/simplesamlphp/setup.sh PEER_DIR [--portner-like]
#
# PEER_DIR receives the copies of the originals (orig/), the peer's RSA-2048 key and certificate
# (cert/) and the test password's hash. Apache's user must be able to read it, so do not put it
# under /root. Running the script again re-applies the same configuration from the saved
# originals. bench/simplesamlphp/teardown.sh PEER_DIR undoes everything.
#
# --portner-like configures the test SP the way Portner treats its SPs by default: the Response
# is not signed (only the Assertion) and the Assertion is encrypted for the SP. Without it the
# peer runs as the recipe measured it: Response and Assertion signed, nothing encrypted.
set -euo pipefail

# Loopback test user's password; must match PASSWORD in idp/benches/sso_http/peer.rs.
readonly PASSWORD='peer-bench-password'
readonly SSP_ETC=/etc/simplesamlphp
readonly APACHE_ETC=/etc/apache2
readonly CHANGED_FILES=(
    "$SSP_ETC/config.php"
    "$SSP_ETC/authsources.php"
    "$SSP_ETC/metadata/saml20-idp-hosted.php"
    "$SSP_ETC/metadata/saml20-sp-remote.php"
    "$APACHE_ETC/ports.conf"
    "$APACHE_ETC/sites-available/000-default.conf"
    "$APACHE_ETC/mods-available/mpm_prefork.conf"
)

die() {
    echo "setup.sh: $*" >&2
    exit 1
}

usage() {
    die "usage: setup.sh PEER_DIR [--portner-like]"
}

# §4.1 step 1. wrk is not needed: idp/benches/sso_http/peer.rs is the load generator.
install_packages() {
    local missing=()
    for package in simplesamlphp php-cli php-xml php-mbstring php-curl openssl curl; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    if ((${#missing[@]} > 0)); then
        echo "Installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
    fi
    echo "SimpleSAMLphp $(dpkg-query -W -f '${Version}' simplesamlphp)"
}

# §4.1 step 2. Originals are saved once; later runs keep the first copies, so that teardown
# restores the state from before the first run. A file that did not exist is listed in
# orig/absent and removed again by teardown.
save_originals() {
    mkdir -p "$PEER_DIR/orig"
    if [[ -f "$PEER_DIR/orig/.complete" ]]; then
        return
    fi
    : >"$PEER_DIR/orig/absent"
    for file in "${CHANGED_FILES[@]}"; do
        if [[ -e "$file" ]]; then
            mkdir -p "$PEER_DIR/orig$(dirname "$file")"
            cp -a "$file" "$PEER_DIR/orig$file"
        else
            echo "$file" >>"$PEER_DIR/orig/absent"
        fi
    done
    if a2query -q -c simplesamlphp; then
        echo yes >"$PEER_DIR/orig/conf-enabled"
    else
        echo no >"$PEER_DIR/orig/conf-enabled"
    fi
    touch "$PEER_DIR/orig/.complete"
}

original() {
    echo "$PEER_DIR/orig$1"
}

# §4.2 step 3. The key is readable by Apache's group only, not by the world.
make_key() {
    local name=$1
    local cert_dir="$PEER_DIR/cert"
    mkdir -p "$cert_dir"
    if [[ ! -f "$cert_dir/$name.pem" || ! -f "$cert_dir/$name.crt" ]]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$name.test" \
            -keyout "$cert_dir/$name.pem" -out "$cert_dir/$name.crt" 2>/dev/null
    fi
    chown root:www-data "$cert_dir/$name.pem"
    chmod 640 "$cert_dir/$name.pem"
    chmod 644 "$cert_dir/$name.crt"
}

# §4.2 step 4: Argon2id with OWASP m=19456, t=2, p=1, the same as Portner's default.
make_password_hash() {
    local hash_file="$PEER_DIR/alice.argon2id"
    if [[ ! -s "$hash_file" ]]; then
        PEER_PASSWORD="$PASSWORD" php -r 'echo password_hash(getenv("PEER_PASSWORD"),
            PASSWORD_ARGON2ID, ["memory_cost" => 19456, "time_cost" => 2, "threads" => 1]);' \
            >"$hash_file"
    fi
    cat "$hash_file"
}

# §4.3 step 5: overrides appended to the original file, which stays otherwise untouched.
write_config() {
    cp "$(original "$SSP_ETC/config.php")" "$SSP_ETC/config.php"
    cat >>"$SSP_ETC/config.php" <<'PHP'

// Portner SSO benchmark peer (bench/simplesamlphp/setup.sh), performance.md §4.3 step 5.
$config['enable.saml20-idp'] = true;
$config['module.enable']['exampleauth'] = true;
$config['module.enable']['authcrypt'] = true;
$config['session.cookie.secure'] = false;
PHP
}

# §4.3 step 6.
write_authsources() {
    local hash=$1
    cat >"$SSP_ETC/authsources.php" <<PHP
<?php
// Portner SSO benchmark peer (bench/simplesamlphp/setup.sh), performance.md §4.3 step 6.
\$config = [
    'admin' => ['core:AdminPassword'],
    'argon-hash' => [
        'authcrypt:Hash',
        'alice:$hash' => [
            'uid' => ['alice'],
            'mail' => ['alice@example.org'],
            'eduPersonAffiliation' => ['member', 'staff'],
        ],
    ],
];
PHP
}

# §4.3 steps 7 and 8.
write_metadata() {
    local cert_dir="$PEER_DIR/cert"
    cat >"$SSP_ETC/metadata/saml20-idp-hosted.php" <<PHP
<?php
// Portner SSO benchmark peer (bench/simplesamlphp/setup.sh), performance.md §4.3 step 7.
\$metadata['__DYNAMIC:1__'] = [
    'host' => '__DEFAULT__',
    'privatekey' => '$cert_dir/idp.pem',
    'certificate' => '$cert_dir/idp.crt',
    'auth' => 'argon-hash',
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
];
PHP

    # Portner's defaults: sign the assertion only and encrypt it. SimpleSAMLphp then uses
    # rsa-oaep-mgf1p with AES-128-CBC (fixed in 1.19), where Portner uses RSA-OAEP with
    # AES-256-GCM: both one RSA public-key operation and a symmetric pass over a few KB.
    local portner_like=""
    if [[ $MODE == portner-like ]]; then
        portner_like="    'saml20.sign.response' => false,
    'assertion.encryption' => true,
    'certificate' => '$cert_dir/sp.crt',"
    fi
    cat >"$SSP_ETC/metadata/saml20-sp-remote.php" <<PHP
<?php
// Portner SSO benchmark peer (bench/simplesamlphp/setup.sh), performance.md §4.3 step 8.
// Nothing listens on port 9: the benchmark reads the form carrying the response.
\$metadata['urn:test:sp'] = [
    'AssertionConsumerService' => 'http://127.0.0.1:9/acs',
    'SingleLogoutService' => 'http://127.0.0.1:9/slo',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
$portner_like
];
PHP
    for file in config.php authsources.php metadata/saml20-idp-hosted.php \
        metadata/saml20-sp-remote.php; do
        php -l "$SSP_ETC/$file" >/dev/null || die "$SSP_ETC/$file does not parse"
    done
}

# §4.4 steps 9-11: loopback only, and a fixed pool of prefork workers that never exit, so that
# their CPU time stays countable in /proc (§4.6 step 15).
write_apache_config() {
    sed -e 's/^Listen 80$/Listen 127.0.0.1:8080/' -e 's/^\(\s*\)Listen 443/\1# Listen 443/' \
        "$(original "$APACHE_ETC/ports.conf")" >"$APACHE_ETC/ports.conf"
    sed -e 's/<VirtualHost \*:80>/<VirtualHost 127.0.0.1:8080>/' \
        "$(original "$APACHE_ETC/sites-available/000-default.conf")" \
        >"$APACHE_ETC/sites-available/000-default.conf"
    cat >"$APACHE_ETC/mods-available/mpm_prefork.conf" <<'CONF'
# Portner SSO benchmark peer (bench/simplesamlphp/setup.sh), performance.md §4.4 step 10.
<IfModule mpm_prefork_module>
	StartServers            16
	MinSpareServers         16
	MaxSpareServers         64
	MaxRequestWorkers       64
	MaxConnectionsPerChild  0
</IfModule>
CONF
    a2enconf -q simplesamlphp >/dev/null
    [[ $(a2query -M) == prefork ]] || die "Apache is not on the prefork MPM"
    apachectl configtest 2>/dev/null || die "apachectl configtest failed"
}

# A full stop and start, not a restart: a restart answers connections during the switch with a
# reset, and the old listener would make the wait below return too early.
start_apache() {
    if pgrep -x apache2 >/dev/null; then
        apachectl stop
        for _ in $(seq 50); do
            pgrep -x apache2 >/dev/null || break
            sleep 0.2
        done
    fi
    apachectl start
    for _ in $(seq 50); do
        if curl -s -o /dev/null "http://127.0.0.1:8080/simplesamlphp/"; then
            break
        fi
        sleep 0.2
    done
    # Every socket Apache listens on must be the loopback one.
    local listeners
    listeners=$(ss -ltnp | grep '"apache2"' | awk '{print $4}' | sort -u)
    [[ $listeners == "127.0.0.1:8080" ]] || die "Apache listens on: ${listeners:-nothing}"
    echo "Apache listens on 127.0.0.1:8080 only"
}

# §4.5 step 12: one full sign-in, then a second SSO on the same session without a password.
smoke_test() {
    local jar="$PEER_DIR/smoke.cookies"
    local sso="http://127.0.0.1:8080/simplesamlphp/saml2/idp/SSOService.php?spentityid=urn:test:sp"
    rm -f "$jar"

    local login_url form auth_state
    login_url=$(curl -sS -c "$jar" -b "$jar" -L -o "$PEER_DIR/smoke-form.html" \
        -w '%{url_effective}' "$sso")
    form=$(cat "$PEER_DIR/smoke-form.html")
    auth_state=$(FORM="$form" php -r '$d = new DOMDocument(); @$d->loadHTML(getenv("FORM"));
        foreach ($d->getElementsByTagName("input") as $i) {
            if ($i->getAttribute("name") === "AuthState") { echo $i->getAttribute("value"); }
        }')
    [[ -n $auth_state ]] || die "smoke test: no AuthState on the login form ($login_url)"

    curl -sS -c "$jar" -b "$jar" -L -o "$PEER_DIR/smoke-response.html" \
        --data-urlencode username=alice --data-urlencode "password=$PASSWORD" \
        --data-urlencode "AuthState=$auth_state" "${login_url%%\?*}"
    extract_response "$PEER_DIR/smoke-response.html" "$PEER_DIR/smoke-response.xml"
    check_response "$PEER_DIR/smoke-response.xml"

    curl -sS -c "$jar" -b "$jar" -L -o "$PEER_DIR/smoke-again.html" "$sso"
    extract_response "$PEER_DIR/smoke-again.html" "$PEER_DIR/smoke-again.xml"
    echo "Smoke test: a second SSO on the same session returned a SAMLResponse"
}

extract_response() {
    HTML_FILE=$1 php -r '$d = new DOMDocument(); @$d->loadHTMLFile(getenv("HTML_FILE"));
        foreach ($d->getElementsByTagName("input") as $i) {
            if ($i->getAttribute("name") === "SAMLResponse") {
                echo base64_decode($i->getAttribute("value"));
            }
        }' >"$2"
    [[ -s $2 ]] || die "smoke test: no SAMLResponse in $1"
}

# Counts the signatures and checks them with xmlsec1 when it is installed. With --portner-like
# the only signature is inside the EncryptedAssertion, which xmlsec1 would first have to
# decrypt with the SP key; the check is then limited to the structure.
check_response() {
    local xml=$1
    local signatures encrypted
    signatures=$({ grep -o '<ds:Signature[ >]' "$xml" || true; } | wc -l)
    encrypted=$(grep -c 'EncryptedAssertion' "$xml" || true)
    echo "Smoke test: SAMLResponse of $(wc -c <"$xml") bytes, $signatures visible" \
        "signature(s), EncryptedAssertion: $([[ $encrypted -gt 0 ]] && echo yes || echo no)"
    if [[ $MODE == portner-like ]]; then
        [[ $signatures -eq 0 && $encrypted -gt 0 ]] || die "smoke test: expected an unsigned" \
            "Response around an EncryptedAssertion"
        return
    fi
    [[ $signatures -eq 2 ]] || die "smoke test: expected 2 signatures"
    if ! command -v xmlsec1 >/dev/null; then
        echo "Smoke test: xmlsec1 not installed, signatures not verified (skipped)"
        return
    fi
    for parent in Response Assertion; do
        xmlsec1 --verify --pubkey-cert-pem "$PEER_DIR/cert/idp.crt" \
            --id-attr:ID urn:oasis:names:tc:SAML:2.0:protocol:Response \
            --id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion \
            --node-xpath "//*[local-name()='Signature'][parent::*[local-name()='$parent']]" \
            "$xml" 2>/dev/null || die "smoke test: xmlsec1 rejects the $parent signature"
    done
    echo "Smoke test: xmlsec1 verifies the Response and the Assertion signature"
}

main() {
    (($# >= 1 && $# <= 2)) || usage
    [[ $1 != -* ]] || usage
    MODE=recipe
    if (($# == 2)); then
        [[ $2 == --portner-like ]] || usage
        MODE=portner-like
    fi
    [[ $(id -u) -eq 0 ]] || die "run as root"
    mkdir -p "$1"
    PEER_DIR=$(cd "$1" && pwd)

    install_packages
    save_originals
    make_key idp
    if [[ $MODE == portner-like ]]; then
        make_key sp
    fi
    runuser -u www-data -- test -r "$PEER_DIR/cert/idp.pem" ||
        die "Apache's user www-data cannot read $PEER_DIR/cert/idp.pem; choose another PEER_DIR"
    write_config
    write_authsources "$(make_password_hash)"
    write_metadata
    write_apache_config
    start_apache
    smoke_test
    echo "Peer ready ($MODE): http://127.0.0.1:8080/simplesamlphp (user alice)"
}

main "$@"
