# Shared by the scripts in scripts/: staging a build for an unprivileged
# user. Source it; it defines functions only.

# stage DIR: copies ebin/ and priv/ into DIR (which must exist), makes DIR
# world-traversable and the helper root-owned and setuid. The order
# matters: a chmod after chmod 4755 would clear the setuid bit.
stage() {
    dir=$1
    chmod 755 "$dir"
    cp -r ebin priv "$dir/"
    chmod -R a+rX "$dir/ebin" "$dir/priv"
    chown root:root "$dir/priv/procket"
    chmod 4755 "$dir/priv/procket"
}

# as_nobody CMD...: runs CMD as uid/gid 65534 with no supplementary groups.
as_nobody() {
    setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
}
