"""GraphQL: mapping rules (`mapping_rule`, `mapping_rule_list`), under NetBox's object permissions."""
