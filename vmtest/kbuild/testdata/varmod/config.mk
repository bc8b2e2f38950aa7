# Included by mod/Kbuild through a make variable, as xtables-addons'
# extensions/Kbuild includes $(XA_ABSTOPSRCDIR)/mconfig.
build_varmod := m
