// placeholder until the plan lands
